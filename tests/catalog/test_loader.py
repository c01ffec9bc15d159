"""Loading a user's catalog, and the mistakes it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from kansa.catalog import default_catalog_paths, load_catalog
from kansa.catalog.template import Template
from kansa.errors import ConfigError

MINIMAL = """
[product]
id = "acme"
name = "Acme"
apps = ["Acme Portal"]

[categories.auth]
ja = "認証"
en = "Authentication"

[results.success]
ja = "成功"
en = "Success"

[[events]]
action = "login"
category = "auth"
history = "login"
level = "info"
label = { ja = "ログイン", en = "Login" }
results = ["success"]
message = { ja = "{actor}がログイン", en = "{actor} signed in" }
"""


def test_a_users_catalog_loads_beside_the_shipped_ones(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    catalog = load_catalog([*default_catalog_paths(), path])
    assert catalog.get("acme", "login") is not None
    assert catalog.find("Acme Portal", "login").event_type is not None
    # "login" now exists in Garoon and Acme: without an app kansa cannot choose.
    ambiguous = catalog.find(None, "login")
    assert ambiguous.event_type is None and ambiguous.path == "app"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (('level = "info"', 'level = "loud"'), "events[0] (login).level"),
        (('results = ["success"]', 'results = ["win"]'), "events[0] (login).results"),
        (('category = "auth"', 'category = "nope"'), "events[0] (login).category"),
        (('history = "login"', 'history = "login"\ncolour = "red"'), "events[0].colour"),
        (("{actor}がログイン", "{actor がログイン"), "events[0] (login).message"),
    ],
)
def test_mistakes_are_named_with_file_and_key(
    tmp_path: Path, change: tuple[str, str], where: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(MINIMAL.replace(*change), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_catalog([path])
    assert str(path) in str(caught.value) and where in str(caught.value)


def test_a_product_defined_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    with pytest.raises(ConfigError, match="already defined"):
        load_catalog([path, path])


def test_templates_reach_only_their_values() -> None:
    template = Template.parse("{a}{b?}{{x}}", "{a} ok")
    assert template.required == {"a"} and template.optional == {"b"}
    assert template.render("ja", {"a": "1"}) == "1{x}"
    with pytest.raises(ValueError, match="unbalanced brace"):
        Template.parse("{a.__class__}", "{a[0]}")


def test_the_shipped_catalogs_load_and_cover_four_products() -> None:
    catalog = load_catalog(default_catalog_paths())
    assert set(catalog.products) == {"cybozu", "microcms", "pca-id", "kddi-business-id", "kansa"}
    assert len(catalog) > 200


def test_no_label_cell_or_message_of_any_catalog_shows_a_printf_placeholder() -> None:
    """Garoon writes ``login API(%s)``: kansa declares the value (``code``, ``{api}``) and
    renders it; no label or template, in either language, keeps a literal ``%s``."""
    catalog = load_catalog(default_catalog_paths())
    for product in catalog.products.values():
        words = [*product.categories.values(), *product.results.values(), *product.groups.values()]
        words += [*product.fields.values(), *product.levels.values()]
        for event_type in product.events.values():
            values = dict.fromkeys(event_type.param_names(), "REST")
            for lang in ("ja", "en"):
                shown = [event_type.title(lang), event_type.title(lang, values)]
                shown += [event_type.shown_code(), event_type.shown_code(values)]
                shown += [t.render(lang, values) for t in event_type.result_messages.values()]
                shown.append(event_type.message.render(lang, values))
                assert not [s for s in shown if "%s" in s], event_type.action
        assert not [w for w in words for lang in ("ja", "en") if "%s" in w.get(lang)], product.id
    api = catalog.get("cybozu", "login API")
    assert api is not None and api.shown_code({"api": "REST"}) == "login API(REST)"
