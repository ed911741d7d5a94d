"""engine/predicates: the exact SQL text and parameters each filter compiles to (order included)."""

from datetime import datetime

from membucket.engine.predicates import KEPT_STATES, both, filter_sql, range_sql, visibility_sql
from membucket.ops.access import Visibility
from membucket.ops.export import ExportFilters
from membucket.ops.filters import Filters

AFTER, BEFORE = datetime(2026, 1, 1), datetime(2026, 2, 1)


def test_a_filter_compiles_every_set_field_in_order():
    assert filter_sql(Filters()) == ("list_contains(?, state)", [list(KEPT_STATES)])
    f = Filters(apps=["cursor"], categories=["work"], states=["active"], created_after=AFTER, created_before=BEFORE,
                metadata={"src": "cli"}, text="Tea")
    assert filter_sql(f) == (
        "list_contains(?, state) AND list_contains(?, app) AND list_has_any(categories, ?::VARCHAR[]) AND created_at >= ?"
        " AND created_at < ? AND json_extract(metadata, '$.\"src\"') = ?::JSON AND contains(lower(text), lower(?))",
        [["active"], ["cursor"], ["work"], AFTER, BEFORE, '"cli"', "Tea"],
    )


def test_visibility_binds_lists_and_fails_closed():
    assert visibility_sql(Visibility(deny_all=True)) == ("false", [])
    assert visibility_sql(Visibility()) == ("true", [])
    v = Visibility(deny_ids=("m1",), deny_cats=("health",), allow_list=True, allow_ids=("m2",), allow_cats=("work",))
    assert visibility_sql(v) == (
        "NOT list_contains(?, id) AND NOT list_has_any(categories, ?::VARCHAR[])"
        " AND id NOT IN (SELECT memory_id FROM pending_categories)"
        " AND (list_contains(?, id) OR list_has_any(categories, ?::VARCHAR[]))",
        [["m1"], ["health"], ["m2"], ["work"]],
    )


def test_an_export_range_names_each_state_and_combines():
    assert range_sql(ExportFilters()) == ("true", [])
    r = range_sql(ExportFilters(app="cursor", states=["active", "deleted"], created_after=AFTER, created_before=BEFORE))
    assert r == ("true AND app = ? AND state IN (?, ?) AND created_at >= ? AND created_at < ?",
                 ["cursor", "active", "deleted", AFTER, BEFORE])
    assert both(("a = ?", [1]), ("b = ?", [2])) == ("a = ? AND b = ?", [1, 2])
