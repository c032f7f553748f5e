"""The steps of a remediation plan become POA&M milestones: list items in order, dated when
they name an ISO date, never more than the limit, and nothing from prose."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from compliancegate.oscal.poam import MAX_PLAN_ITEMS, plan_items

PLAN = """\
# Remediation of CVE-2

We will fix this in three steps.

1. Upgrade pkg-CVE-2 to 2.4.1 by 2026-04-01
2) Rebuild the image
- [ ] Redeploy to staging (2026-04-15)
* [x] Tell the ISSO
    - a nested note, not a step
+ Close the finding, 2026-13-45 is not a date
"""


def test_list_items_are_steps_in_order_with_their_dates() -> None:
    assert plan_items(PLAN) == [
        ("Upgrade pkg-CVE-2 to 2.4.1 by 2026-04-01", dt.datetime(2026, 4, 1, tzinfo=dt.UTC)),
        ("Rebuild the image", None),
        ("Redeploy to staging (2026-04-15)", dt.datetime(2026, 4, 15, tzinfo=dt.UTC)),
        ("Tell the ISSO", None),
        ("Close the finding, 2026-13-45 is not a date", None),
    ]


def test_prose_has_no_steps_and_long_lists_are_cut() -> None:
    assert plan_items("We will upgrade the package next week.\n\n2026-05-01 is the date.") == []
    many = "".join(f"- step {n}\n" for n in range(MAX_PLAN_ITEMS + 20))
    assert len(plan_items(many)) == MAX_PLAN_ITEMS


@given(st.text(max_size=400))
def test_any_text_gives_bounded_steps(text: str) -> None:
    steps = plan_items(text)
    assert len(steps) <= MAX_PLAN_ITEMS
    for title, when in steps:
        assert title and title == title.strip()
        assert when is None or when.tzinfo is dt.UTC
