"""Mermaid text: the exact flowchart for a small DAG, safe ids, and labels that cannot break out."""

from __future__ import annotations

from adapters.visualization.graph import step_graph
from adapters.visualization.mermaid import label, mermaid, mermaid_ids
from domain.run_statuses import StepStatus
from tests.unit.visual_graphs import definition, diamond, step_row


def test_a_definition_is_a_plain_flowchart() -> None:
    assert mermaid(diamond()) == (
        "flowchart LR\n"
        '    build["build"]\n'
        '    test["test"]\n'
        '    lint["lint"]\n'
        '    deploy["deploy"]\n'
        "    build --> test\n"
        "    build --> lint\n"
        "    test --> deploy\n"
        "    lint --> deploy\n"
    )


def test_a_run_adds_each_steps_state_and_a_class_per_status() -> None:
    assert mermaid(diamond(with_run=True)) == (
        "flowchart LR\n"
        '    build["build<br/>succeeded · 42.3 s"]\n'
        '    test["test<br/>failed (exit 1) · attempt 3/3 · 8.1 s"]\n'
        '    lint["lint<br/>succeeded · 950 ms"]\n'
        '    deploy["deploy<br/>skipped"]\n'
        "    build --> test\n"
        "    build --> lint\n"
        "    test --> deploy\n"
        "    lint --> deploy\n"
        "    classDef succeeded fill:#dcfce7,stroke:#16a34a,color:#14532d\n"
        "    classDef failed fill:#fee2e2,stroke:#dc2626,color:#7f1d1d\n"
        "    classDef skipped fill:#f5f3ff,stroke:#8b5cf6,color:#4c1d95,stroke-dasharray:5 3\n"
        "    class build,lint succeeded\n"
        "    class test failed\n"
        "    class deploy skipped\n"
    )


def test_a_sequential_pipeline_chains_its_steps() -> None:
    graph = step_graph(definition([{"name": "a", "run": "x"}, {"name": "b", "run": "y"}]), "t")

    assert mermaid(graph).splitlines()[-1] == "    a --> b"


def test_ids_keep_only_safe_characters_avoid_keywords_and_stay_distinct() -> None:
    names = ["build.linux-x64", "build_linux_x64", "end", "End", "9lives", "graph", "ok"]

    ids = mermaid_ids(names)

    assert ids == {
        "build.linux-x64": "build_linux_x64",
        "build_linux_x64": "build_linux_x64_2",
        "end": "step_end",
        "End": "step_End_2",
        "9lives": "step_9lives",
        "graph": "step_graph",
        "ok": "ok",
    }


def test_labels_turn_quotes_markup_and_comments_into_entity_codes() -> None:
    assert label('say "hi" <b>&amp;</b> %% #1 `x` *y*') == (
        "say #quot;hi#quot; #60;b#62;#38;amp#59;#60;/b#62; #37;#37; #35;1 #96;x#96; #42;y#42;"
    )
    assert label("two\nlines\ttabbed") == "two lines tabbed"
    assert label("naïve · 3.2 s") == "naïve · 3.2 s"


def test_odd_step_names_make_a_flowchart_with_one_node_and_edge_each() -> None:
    steps = [
        {"name": "end", "run": "echo"},
        {"name": "a.b-c", "run": "echo", "needs": ["end"]},
        {"name": "a_b_c", "run": "echo", "needs": ["end", "a.b-c"]},
    ]
    graph = step_graph(definition(steps), "odd", [step_row("end", StepStatus.RUNNING)])

    text = mermaid(graph)

    assert '    step_end["end<br/>running"]' in text
    assert '    a_b_c["a.b-c<br/>no record in this run"]' in text
    assert '    a_b_c_2["a_b_c<br/>no record in this run"]' in text
    assert "    step_end --> a_b_c\n    step_end --> a_b_c_2\n    a_b_c --> a_b_c_2\n" in text
    assert "    class a_b_c,a_b_c_2 none\n" in text
