"""fast_init: the same records as the dataclass's own __init__, and only where that holds."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from dataclasses import InitVar, dataclass, field
from decimal import Decimal

import pytest

from mmtrio.core.commands import PlaceOrder
from mmtrio.core.events import Fill, OrderUpdate, Side, TimeInForce, Trade
from mmtrio.core.frozen import fast_init
from mmtrio.core.order_states import Order, OrderState
from mmtrio.core.risk import RiskView


def _record_class() -> type:
    @dataclass(frozen=True, slots=True)
    class Record:
        a: int
        b: str = "b"
        c: tuple[int, ...] = ()

    return Record


def test_the_signature_and_the_fields_are_the_dataclasses() -> None:
    plain, fast = _record_class(), fast_init(_record_class())
    assert vars(fast)["__init__"] is not vars(plain)["__init__"]

    def params(cls: type) -> list[tuple[str, object, object]]:
        sig = inspect.signature(vars(cls)["__init__"])
        return [(p.name, p.default, p.kind) for p in sig.parameters.values()]

    assert params(fast) == params(plain)
    for args, kwargs in (
        ((1,), {}),
        ((1, "x"), {}),
        ((), {"a": 2, "c": (1,)}),
        ((3, "y", (4,)), {}),
    ):
        assert dataclasses.astuple(fast(*args, **kwargs)) == dataclasses.astuple(
            plain(*args, **kwargs)
        )


def test_records_are_the_dataclasses_own() -> None:
    order = Order(
        "c1",
        (Side.BUY, 0),
        Side.BUY,
        1000,
        5,
        TimeInForce.POST_ONLY,
        False,
        7,
        updated_ts=7,
        last_request_ts=7,
        facts_ts=7,
    )
    assert order.state is OrderState.PENDING_NEW and order.filled == 0 and order.reason == ""
    # Built field by field, as the dataclass's own __init__ does, the record is equal.
    values = {f.name: getattr(order, f.name) for f in dataclasses.fields(Order)}
    by_keyword = Order(**values)
    assert by_keyword == order and hash(by_keyword) == hash(order)
    assert repr(by_keyword) == repr(order)
    moved = dataclasses.replace(order, state=OrderState.OPEN, order_id=9)
    assert (moved.state, moved.order_id, moved.client_id) == (OrderState.OPEN, 9, "c1")
    assert pickle.loads(pickle.dumps(order)) == order == copy.deepcopy(order)
    with pytest.raises(dataclasses.FrozenInstanceError):
        order.price = 1  # type: ignore[misc]


def test_every_field_is_set_from_its_own_argument() -> None:
    fill = Fill("BTCUSDT", 1, "c", 2, Side.SELL, 3, 4, Decimal("0.5"), "USDT", True, 6)
    assert [getattr(fill, f.name) for f in dataclasses.fields(Fill)] == [
        "BTCUSDT",
        1,
        "c",
        2,
        Side.SELL,
        3,
        4,
        Decimal("0.5"),
        "USDT",
        True,
        6,
    ]
    trade = Trade("ETHUSDT", 10, 2, 99, True, 5)
    assert trade == dataclasses.replace(trade)
    cmd = PlaceOrder("c", "BTCUSDT", Side.BUY, 1, 2, TimeInForce.IOC, True)
    assert (cmd.time_in_force, cmd.reduce_only) == (TimeInForce.IOC, True)
    for cls in (OrderUpdate, RiskView, Order):
        assert cls.__init__.__qualname__ == f"{cls.__name__}.__init__"
        assert cls.__init__.__module__ == cls.__module__


def test_missing_and_unknown_arguments_fail_as_before() -> None:
    with pytest.raises(TypeError, match="required positional argument"):
        Trade("ETHUSDT", 10, 2, 99, True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        Trade("ETHUSDT", 10, 2, 99, True, 5, nope=1)  # type: ignore[call-arg]


def test_only_classes_it_can_build_exactly_are_accepted() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(slots=True)
    class Mutable:
        a: int

    @dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("negative")

    @dataclass(frozen=True, slots=True)
    class Derived:
        a: int
        b: int = field(init=False, default=0)

    @dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        scale: InitVar[int] = 1

    @dataclass(frozen=True, slots=True)
    class KeywordOnly:
        a: int
        b: int = field(kw_only=True, default=0)

    @dataclass(frozen=True, slots=True)
    class Factory:
        a: tuple[int, ...] = field(default_factory=tuple)

    for cls, why in (
        (NoSlots, "not a frozen, slotted dataclass"),
        (Mutable, "not a frozen, slotted dataclass"),
        (Checked, "has a __post_init__"),
        (Derived, "does not take exactly its fields"),
        (WithInitVar, "does not take exactly its fields"),
        (KeywordOnly, "does not take exactly its fields"),
        (Factory, "has a default_factory"),
    ):
        with pytest.raises(TypeError, match=why):
            fast_init(cls)
