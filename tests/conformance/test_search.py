"""Search with filters and cursor pagination, and exact lookup by name and identifiers."""

from __future__ import annotations

import pytest

from cmdb.model import ChangeContext, Criticality, Status
from cmdb.store.base import MAX_PAGE_SIZE, CIFilter, GraphStore
from tests.conformance.factories import ci
from tests.reference import load_hospital


def _keys(store: GraphStore, ci_filter: CIFilter) -> list[str]:
    return [record.key for record in store.search_cis(ci_filter, first=MAX_PAGE_SIZE, after=None).items]


def test_walk_all_pages(store: GraphStore, context: ChangeContext) -> None:
    keys = [f"ci-{n:05d}" for n in range(1200)]
    store.upsert_cis([ci(key) for key in reversed(keys)], context=context)

    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        page = store.search_cis(CIFilter(), first=500, after=after)
        pages += 1
        assert page.total == 1200
        seen.extend(record.key for record in page.items)
        if not page.has_next:
            break
        after = page.end_cursor

    assert pages == 3
    assert seen == keys


def test_inserts_before_cursor_cause_no_gaps(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci(f"ci-{n:03d}") for n in range(0, 100, 2)], context=context)
    first = store.search_cis(CIFilter(), first=10, after=None)

    store.upsert_cis([ci(f"ci-{n:03d}") for n in range(1, 19, 2)], context=context)
    rest: list[str] = []
    after = first.end_cursor
    while after is not None:
        page = store.search_cis(CIFilter(), first=10, after=after)
        rest.extend(record.key for record in page.items)
        after = page.end_cursor if page.has_next else None

    first_keys = [record.key for record in first.items]
    assert first_keys == [f"ci-{n:03d}" for n in range(0, 20, 2)]
    assert rest == [f"ci-{n:03d}" for n in range(20, 100, 2)]


def test_first_is_clamped(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci(f"ci-{n:03d}") for n in range(MAX_PAGE_SIZE + 5)], context=context)

    too_many = store.search_cis(CIFilter(), first=MAX_PAGE_SIZE + 100, after=None)
    too_few = store.search_cis(CIFilter(), first=0, after=None)

    assert len(too_many.items) == MAX_PAGE_SIZE
    assert too_many.has_next
    assert [record.key for record in too_few.items] == ["ci-000"]


def test_empty_result_page(store: GraphStore) -> None:
    page = store.search_cis(CIFilter(text="nothing"), first=10, after=None)

    assert page.items == []
    assert page.has_next is False
    assert page.end_cursor is None
    assert page.total == 0


def test_invalid_cursor_raises(store: GraphStore) -> None:
    with pytest.raises(ValueError, match="cursor"):
        store.search_cis(CIFilter(), first=10, after="%%% not a cursor")


def test_filter_by_class_status_criticality(hospital: GraphStore, context: ChangeContext) -> None:
    cis, _ = load_hospital()
    hospital.retire_ci("sw-core-2", expected_version=None, context=context)

    switches = _keys(hospital, CIFilter(ci_classes=("NetworkDevice",)))
    retired = _keys(hospital, CIFilter(statuses=(Status.RETIRED,)))
    in_service = _keys(hospital, CIFilter(statuses=(Status.IN_SERVICE,)))
    life_critical_devices = _keys(
        hospital,
        CIFilter(ci_classes=("MedicalDevice",), criticalities=(Criticality.LIFE_CRITICAL,)),
    )

    assert switches == sorted(c.key for c in cis if c.ci_class == "NetworkDevice")
    assert retired == ["sw-core-2"]
    assert in_service == sorted(c.key for c in cis if c.key != "sw-core-2")
    assert life_critical_devices == sorted(
        c.key for c in cis if c.ci_class == "MedicalDevice" and c.criticality is Criticality.LIFE_CRITICAL
    )
    assert "cs-icu" in life_critical_devices


def test_filter_by_tag(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis(
        [ci("svc-1", "Service", tags=["medication"]), ci("svc-2", "Service", tags=["imaging"]), ci("srv-1")],
        context=context,
    )

    assert _keys(store, CIFilter(tag="medication")) == ["svc-1"]
    assert _keys(store, CIFilter(tag="Medication")) == ["svc-1"]
    assert _keys(store, CIFilter(tag="none")) == []


def test_filter_by_text(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis(
        [
            ci("pump-icu-1", "MedicalDevice", name="Alaris Pump ICU"),
            ci("mon-1", "MedicalDevice", name="Bedside Monitor", identifiers={"serial": "MX450-77"}),
            ci("srv-ehr", name="EHR Node", identifiers={"ips": ["10.1.2.3"]}),
        ],
        context=context,
    )

    assert _keys(store, CIFilter(text="PUMP")) == ["pump-icu-1"]
    assert _keys(store, CIFilter(text="bedside")) == ["mon-1"]
    assert _keys(store, CIFilter(text="MX450-77")) == ["mon-1"]
    assert _keys(store, CIFilter(text="MX450")) == []
    assert _keys(store, CIFilter(text="10.1.2.3")) == ["srv-ehr"]
    assert _keys(store, CIFilter(text="icu")) == ["pump-icu-1"]


def test_filters_combine(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis(
        [
            ci("pump-1", "MedicalDevice", tags=["medication"]),
            ci("pump-2", "MedicalDevice", tags=["medication"], status=Status.MAINTENANCE),
            ci("svc-1", "Service", tags=["medication"]),
        ],
        context=context,
    )
    ci_filter = CIFilter(ci_classes=("MedicalDevice",), statuses=(Status.IN_SERVICE,), tag="medication")

    page = store.search_cis(ci_filter, first=10, after=None)

    assert [record.key for record in page.items] == ["pump-1"]
    assert page.total == 1


def test_total_ignores_cursor(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci(f"ci-{n}") for n in range(7)], context=context)
    first = store.search_cis(CIFilter(), first=3, after=None)

    second = store.search_cis(CIFilter(), first=3, after=first.end_cursor)

    assert second.total == 7
    assert [record.key for record in second.items] == ["ci-3", "ci-4", "ci-5"]


@pytest.fixture
def device(store: GraphStore, context: ChangeContext) -> GraphStore:
    store.upsert_cis(
        [
            ci(
                "mon-icu-7",
                "MedicalDevice",
                name="ICU Monitor Seven",
                identifiers={
                    "serial": "SN-7788",
                    "macs": ["00:1A:2B:3C:4D:5E"],
                    "ips": ["10.20.30.40", "2001:db8::1"],
                    "hostname": "MON-ICU-7.hospital.local",
                    "udi_di": "00812345678901",
                    "asset_tag": "BIO-0042",
                },
            ),
            ci("other", "MedicalDevice", name="Other Device"),
        ],
        context=context,
    )
    return store


@pytest.mark.parametrize(
    "text",
    [
        "mon-icu-7",
        "ICU Monitor Seven",
        "icu monitor seven",
        "SN-7788",
        "00:1a:2b:3c:4d:5e",
        "00-1A-2B-3C-4D-5E",
        "001a.2b3c.4d5e",
        "001A2B3C4D5E",
        "10.20.30.40",
        "2001:DB8:0::1",
        "mon-icu-7.hospital.local",
        "00812345678901",
        "BIO-0042",
    ],
)
def test_find_by_any_identifier(device: GraphStore, text: str) -> None:
    assert [record.key for record in device.find_cis(text)] == ["mon-icu-7"]


@pytest.mark.parametrize("text", ["", "ICU Monitor", "SN-77", "10.20.30.4", "00:1a:2b:3c:4d"])
def test_find_is_exact(device: GraphStore, text: str) -> None:
    assert device.find_cis(text) == []


def test_find_returns_every_match(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis(
        [ci("b-pc", "Workstation", name="Nurse PC"), ci("a-pc", "Workstation", name="nurse pc")],
        context=context,
    )

    assert [record.key for record in store.find_cis("NURSE PC")] == ["a-pc", "b-pc"]
