-- A row of `events` over about 2 KB (PostgreSQL's default toast_tuple_target) had its `data`
-- compressed (pglz, which fails on the sealed, base64 ciphertext of a webhook's body) and then
-- moved out of line: each webhook delivery (a 3.1 KB sealed body) paid a TOAST insert of two
-- chunks and their index entries under the append lock, and every reader (the relay, the
-- projector, the intake) a TOAST index scan and two chunk fetches per delivery. Rows now stay
-- in the heap, uncompressed, up to what a page holds; larger ones are toasted as before.
-- Only new rows are affected; nothing is rewritten.
ALTER TABLE events SET (toast_tuple_target = 8160);
