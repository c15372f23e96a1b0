"""Product node types as plain classes: which crossings a trigger takes, config
checks the canvas shows, and what a preview (dry run) reports."""

from __future__ import annotations

import pytest

from automation.nodes.base import PermanentNodeError
from automation.nodes.registry import get_node_type
from products.nodes import (
    EnrollProductContactsAction,
    EscalateAction,
    FeatureAdoptionTrigger,
    ProductHealthTrigger,
    ProductScheduleTrigger,
    ProductSignalTrigger,
)
from tests.automation.node_helpers import make_ctx


def crossing(metric: str, band: str, product: int = 1, feature: str | None = None) -> dict:
    return {
        "metric": metric,
        "band": band,
        "product": {"id": product},
        "feature": {"key": feature} if feature else None,
    }


def test_they_are_in_the_one_catalogue():
    for node in (
        FeatureAdoptionTrigger,
        ProductHealthTrigger,
        ProductSignalTrigger,
        ProductScheduleTrigger,
        EscalateAction,
        EnrollProductContactsAction,
    ):
        assert get_node_type(node.type) is node


def test_band_triggers_take_their_band_feature_and_product_only():
    adoption = {"band": "high", "feature": "reports"}
    assert FeatureAdoptionTrigger.matches_crossing(
        adoption, crossing("feature_adoption", "high", feature="reports")
    )
    assert not FeatureAdoptionTrigger.matches_crossing(
        adoption, crossing("feature_adoption", "high", feature="export")
    )
    assert not FeatureAdoptionTrigger.matches_crossing(
        adoption, crossing("feature_adoption", "growth", feature="reports")
    )
    assert not FeatureAdoptionTrigger.matches_crossing(
        {"band": "any"}, crossing("product_health", "critical")
    )
    assert ProductHealthTrigger.matches_crossing(
        {"band": "any"}, crossing("product_health", "stable")
    )
    assert not ProductHealthTrigger.matches_crossing(
        {"band": "critical", "product": 2}, crossing("product_health", "critical", product=1)
    )
    signal = {"signal": "market_opportunity"}
    assert ProductSignalTrigger.matches_crossing(signal, crossing("market_opportunity", "x"))
    assert not ProductSignalTrigger.matches_crossing(
        signal, crossing("performance_optimization", "x")
    )


def fields(node, config: dict) -> list[str]:
    return [issue.field for issue in node.validate_config(config)]


def test_config_checks():
    hour = {"amount": 1, "unit": "hours"}
    assert fields(
        EscalateAction, {"level": 3, "max_level": 2, "title": "t", "acknowledge_within": hour}
    ) == ["max_level"]
    assert fields(EscalateAction, {"level": 4, "title": "t", "acknowledge_within": hour}) == [
        "level"
    ]
    assert fields(EnrollProductContactsAction, {"workflow": "x", "audience": "non_users"}) == [
        "workflow"
    ]
    assert fields(ProductScheduleTrigger, {}) == ["cron"]
    assert fields(ProductScheduleTrigger, {"cron": "0 9 * * 1"}) == []


def test_a_preview_reports_what_would_happen():
    config = {
        "level": 2,
        "title": "{{ event.data.product.name }} is critical",
        "acknowledge_within": {"amount": 4, "unit": "hours"},
    }
    event = {"data": {"product": {"id": 1, "name": "Atlas"}}}
    result = EscalateAction().run(make_ctx(config, event=event, dry_run=True))
    assert result.output == {"dry_run": True, "would": {"level": 2, "title": "Atlas is critical"}}
    enrol = {"workflow": "00000000-0000-0000-0000-000000000001", "audience": "non_users"}
    event = {"data": {"product": {"id": 1}, "feature": {"key": "reports"}}}
    result = EnrollProductContactsAction().run(make_ctx(enrol, event=event, dry_run=True))
    assert result.output["would"] == {"audience": "non_users", "feature": "reports"}


def test_without_a_product_or_feature_the_step_fails_saying_so():
    config = {"level": 2, "title": "t", "acknowledge_within": {"amount": 1, "unit": "hours"}}
    with pytest.raises(PermanentNodeError, match="product"):
        EscalateAction().run(make_ctx(config, event={"data": {}}))
    enrol = {"workflow": "00000000-0000-0000-0000-000000000001", "audience": "non_users"}
    with pytest.raises(PermanentNodeError, match="feature"):
        EnrollProductContactsAction().run(make_ctx(enrol, event={"data": {}}))
