from kansa.ids import IdFactory, timestamp_ms


def test_ids_sort_in_the_order_they_were_made() -> None:
    factory = IdFactory()
    ids = [factory.new(now_ms=1_700_000_000_000) for _ in range(1000)]
    ids += [factory.new(now_ms=1_700_000_000_001) for _ in range(10)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(len(i) == 26 for i in ids)
    assert timestamp_ms(ids[0]) == 1_700_000_000_000


def test_a_clock_going_back_does_not_break_order() -> None:
    factory = IdFactory()
    first = factory.new(now_ms=2_000)
    assert factory.new(now_ms=1_000) > first
