import random

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


def test_an_id_is_its_millisecond_and_random_bits_in_crockford_base32() -> None:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    rng = random.Random(7)
    for _ in range(2000):
        ms, bits = (
            rng.getrandbits(rng.choice([1, 41, 48])),
            rng.getrandbits(rng.choice([1, 40, 80])),
        )
        factory = IdFactory()
        factory._last_ms, factory._last_random = ms, bits - 1  # the next id in ms is bits
        made = factory.new(now_ms=ms)
        value = 0
        for char in made:
            value = value * 32 + alphabet.index(char)
        assert len(made) == 26 and value == (ms << 80) | bits
