"""The `if:` / `${{ }}` expression language: parsing, positions of errors, GitHub's semantics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.expression_eval import Status, evaluate, render, template_parts
from domain.expression_tree import step_references, unparse, uses_status
from domain.expressions import (
    CONTEXTS,
    DEPTH_MAX,
    Binary,
    Call,
    ExpressionError,
    Index,
    Literal,
    Name,
    Node,
    Not,
    Property,
    parse,
    parse_condition,
)

CONTEXT = {
    "params": {"env": "production", "count": 3, "dry": False},
    "branch": "release/1.2",
    "trigger": {"kind": "webhook", "event": "push", "ref": "refs/heads/release/1.2"},
    "steps": {"build": {"outcome": "success", "outputs": {"version": "1.2.3"}}},
    "matrix": {"os": "linux", "python": "3.11"},
}


def value_of(text: str, status: Status | None = None) -> object:
    return evaluate(parse(text), CONTEXT, status)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.env == 'production'", True),
        ("params.env == 'PRODUCTION'", True),  # strings compare ignoring case
        ("params.count == '3'", True),  # different types compare as numbers
        ("params.count > 2 && params.count <= 3", True),
        ("params.dry == false", True),
        ("params.missing == null", True),
        ("params.missing.deeper", None),
        ("startsWith(branch, 'release/')", True),
        ("endsWith(branch, '1.2')", True),
        ("contains(steps.build.outputs.version, '.2.')", True),
        ("steps.build.outputs.version", "1.2.3"),
        ("steps['build'].outcome", "success"),
        ("params.env && 'yes'", "yes"),  # && gives an operand, not a boolean
        ("'' || 'fallback'", "fallback"),
        ("!params.dry", True),
        ("!(params.count == 3)", False),
        ("trigger.event != 'pull_request'", True),
        ("0x10 == 16", True),
        ("-1.5e1 < 0", True),
        ("'it''s' == 'IT''S'", True),
        ("matrix.python == 3.11", True),
        ("null == 0", True),
        ("params == params", True),
    ],
)
def test_github_semantics(text: str, expected: object) -> None:
    assert value_of(text) == expected


def test_status_functions_follow_the_needs() -> None:
    after_failure = Status(failed=True, all_succeeded=False)
    assert value_of("success()") is True
    assert value_of("success()", after_failure) is False
    assert value_of("failure()", after_failure) is True
    assert value_of("always()", Status(cancelled=True)) is True
    assert value_of("cancelled()", Status(cancelled=True)) is True
    # A skipped need is no failure, and no success either.
    after_skip = Status(failed=False, all_succeeded=False)
    assert value_of("!failure()", after_skip) is True
    assert value_of("success()", after_skip) is False


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("", 0, "empty"),
        ("params.env ==", 13, "expected a value"),
        ("params.env = 'x'", 11, "unexpected character '='"),
        ("foo.bar", 0, "unknown name 'foo'"),
        ("params.env == 'x", 14, "unterminated string"),
        ("(params.env", 11, "expected ')'"),
        ("contains(branch)", 0, "takes 2 argument(s), got 1"),
        ("nosuch()", 0, "unknown function"),
        ("params.", 7, "property name"),
        ("success() success()", 10, "unexpected 'success'"),
        ("1e999 > 1", 0, "out of range"),
    ],
)
def test_errors_name_their_position(text: str, position: int, words: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        parse(text)
    assert raised.value.position == position
    assert words in raised.value.message
    assert str(raised.value).startswith(f"at character {position + 1}:")


def test_a_condition_in_braces_counts_positions_in_the_text_as_written() -> None:
    with pytest.raises(ExpressionError) as raised:
        parse_condition("${{ params.x == }}")
    assert raised.value.position == 16
    assert unparse(parse_condition("  ${{ always() }} ")) == "always()"


def test_nesting_past_the_limit_is_a_parse_error_not_a_crash() -> None:
    deep = "(" * (DEPTH_MAX + 1) + "true" + ")" * (DEPTH_MAX + 1)
    with pytest.raises(ExpressionError, match="nested deeper"):
        parse(deep)
    with pytest.raises(ExpressionError, match="nested deeper"):
        parse("!" * 1000 + "true")
    with pytest.raises(ExpressionError, match="longer than"):
        parse("true && " * 400 + "true")


def test_templates_render_and_refuse_status_functions() -> None:
    rendered = render("deploy-${{ branch }}-${{ params.count }}-${{ params.dry }}", CONTEXT)
    assert rendered == "deploy-release/1.2-3-false"
    assert render("a '}}' ${{ 'x}}y' }}", CONTEXT) == "a '}}' x}}y"
    with pytest.raises(ExpressionError) as raised:
        template_parts("deploy-${{ success() }}")
    assert raised.value.position == 11
    with pytest.raises(ExpressionError, match="never closed"):
        template_parts("deploy-${{ branch")


def test_step_references_and_status_use() -> None:
    tree = parse("steps.build.outcome == 'success' && steps['lint'].outputs.x && always()")
    assert step_references(tree) == {"build", "lint"}
    assert uses_status(tree)
    assert not uses_status(parse("params.x"))


# Property tests: every text either parses or raises ExpressionError with a position in it.

ALPHABET = st.sampled_from([*"()[]!=<>&|.,' _-0123456789abexsp", "params", "success()"])


@given(st.text(max_size=200) | st.lists(ALPHABET, max_size=60).map("".join))
def test_any_text_parses_or_is_a_clear_parse_error(text: str) -> None:
    try:
        tree = parse(text)
    except ExpressionError as error:
        assert 0 <= error.position <= len(text)
        assert error.message
    else:
        # Whatever parses has a value and prints back to the same tree.
        evaluate(tree, CONTEXT, Status(failed=True, all_succeeded=False))
        assert parse(unparse(tree)) == tree


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-1e18, max_value=1e18)
    | st.text(max_size=10)
)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True).filter(
    lambda n: n not in ("true", "false", "null")
)


def trees(leaf: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.recursive(
        leaf,
        lambda inner: (
            st.builds(Property, inner, names)
            | st.builds(Index, inner, inner)
            | st.builds(Not, inner)
            | st.builds(
                Binary,
                st.sampled_from(["||", "&&", "==", "!=", "<", "<=", ">", ">="]),
                inner,
                inner,
            )
            | st.builds(
                Call,
                st.sampled_from(["contains", "startsWith", "endsWith"]),
                st.tuples(inner, inner),
            )
            | st.builds(
                Call, st.sampled_from(["success", "failure", "always", "cancelled"]), st.just(())
            )
        ),
        max_leaves=12,
    )


leaves = st.builds(Literal, scalars) | st.builds(Name, st.sampled_from(sorted(CONTEXTS)))


@given(trees(leaves))
def test_printed_trees_parse_back_to_themselves(tree: Node) -> None:
    assert parse(unparse(tree)) == tree
    evaluate(tree, CONTEXT)


@given(st.text(max_size=120) | st.lists(st.sampled_from(["${{", "}}", "'", " branch ", "x"]),
                                        max_size=30).map("".join))  # fmt: skip
def test_any_template_renders_or_is_a_clear_parse_error(template: str) -> None:
    try:
        rendered = render(template, CONTEXT)
    except ExpressionError as error:
        assert 0 <= error.position <= len(template)
    else:
        assert isinstance(rendered, str)
