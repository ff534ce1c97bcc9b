"""The similarity index and text normalisation: ranking, explanations, incremental updates."""

from __future__ import annotations

from detectors.duplicates import DEFAULT_THRESHOLD, build_index, indexed_text
from detectors.similarity import IndexedText, SimilarityIndex
from detectors.text import strip_markup, title_fingerprint, words
from store.db import Store
from store.items import list_items, upsert_items
from tests.similarity_corpus import work_items


def test_markup_code_traces_and_urls_are_cut_to_their_gist() -> None:
    text = (
        "h2. Login fails\n*SAML* error, see [the doc|https://wiki.acme.com/x/y] and "
        "https://github.com/acme/web/issues/123\n"
        "{code:java}\npublic class OktaClient { void login() { } }\n{code}\n"
        "java.lang.IllegalStateException: boom\n"
        "    at com.acme.OktaClient.login(OktaClient.java:12)\n"
        "    at com.acme.Main.main(Main.java:3)\n"
    )
    plain = strip_markup(text)
    assert "h2." not in plain
    assert "OktaClient.java:12" not in plain  # stack frames go
    assert "IllegalStateException: boom" in plain  # the exception line stays
    assert "github acme web issues" in plain  # a URL keeps its host and path words
    assert "123" not in plain
    found = words(text)
    assert {"okta", "client", "login", "saml", "illegal", "state", "exception"} <= set(found)


def test_title_fingerprint_ignores_trivia_but_not_content() -> None:
    base = title_fingerprint("Okta SSO login fails")
    assert title_fingerprint("okta sso LOGIN fails!") == base
    assert title_fingerprint("Fails: the Okta SSO logins") == base
    assert title_fingerprint("Okta SSO logout fails") != base


def test_similar_ranks_the_duplicate_first_and_explains_it() -> None:
    index = build_index(work_items().values())
    assert index.similar("PAY-1", 1)[0].key == "ID-7"
    assert index.similar("DATA-5", 1)[0].key == "DATA-8"
    assert "PAY-1" not in [m.key for m in index.similar("PAY-1", 10)]
    terms = index.shared_terms("PAY-1", "ID-7")
    assert terms[0] == "okta sso login"
    assert "saml" in terms


def test_scan_reports_pairs_with_score_and_neighbour_rank() -> None:
    index = build_index(work_items().values())
    pairs = {(p.a, p.b): p for p in index.scan(0.2)}
    best = pairs[("ID-7", "PAY-1")]
    assert best.rank == 1
    assert 0 < best.score <= best.similarity <= 1
    assert ("PAY-2", "WEB-3") not in pairs


def test_generic_shared_words_score_low_and_explain_nothing() -> None:
    index = build_index(work_items().values())
    # "Fix bug in the ..." twice: generic words, not the same work.
    assert (
        index.pair_score("PAY-2", "WEB-3") < DEFAULT_THRESHOLD < index.pair_score("PAY-1", "ID-7")
    )
    assert index.shared_terms("PAY-2", "WEB-3") == []


def test_search_finds_items_by_free_text() -> None:
    index = build_index(work_items().values())
    keys = [m.key for m in index.search("okta saml login problem", 2)]
    assert set(keys) == {"PAY-1", "ID-7"}
    assert index.search("zzzz qqqq", 5) == []


def test_edited_title_moves_the_item_in_similar() -> None:
    items = work_items()
    index = build_index(items.values())
    assert "WEB-10" not in [m.key for m in index.similar("PAY-1", 3)]
    edited = items["WEB-10"].model_copy(update={"title": "Okta SSO login fails for SAML admins"})
    index.upsert([indexed_text(edited)])
    assert index.similar("PAY-1", 1)[0].key == "WEB-10"
    assert len(index) == len(items)
    # And back: the old text no longer counts anywhere.
    index.upsert([indexed_text(items["WEB-10"])])
    assert "WEB-10" not in [m.key for m in index.similar("PAY-1", 3)]
    index.upsert([IndexedText(key="NEW-1", title="Warehouse export nightly timeout again")])
    assert index.similar("NEW-1", 2)[0].key in {"DATA-5", "DATA-8"}
    index.remove(["DATA-8"])
    assert "DATA-8" not in [m.key for m in index.similar("DATA-5", 10)]
    assert "DATA-8" not in index


def test_query_vectors_follow_the_document_frequencies_after_upsert_and_remove() -> None:
    items = [indexed_text(item) for item in work_items().values()]
    query = IndexedText(key="", title="Okta SSO login fails")
    index = SimilarityIndex()
    index.build(items, scan=False)
    before = index.vectorize(query)  # the n-gram idf is made, and kept, here
    # Many new items with the query's words make them common: their idf must fall.
    crowd = [IndexedText(key=f"CROWD-{n}", title=f"Okta login note {n}") for n in range(40)]
    index.upsert(crowd)
    fresh = SimilarityIndex()
    fresh.build(items + crowd, scan=False)
    after = index.vectorize(query)
    assert (after != before).nnz > 0
    assert abs(after - fresh.vectorize(query)).max() < 1e-6
    index.remove([item.key for item in crowd])
    assert abs(index.vectorize(query) - before).max() < 1e-6


def test_rebuild_from_the_store(store: Store) -> None:
    rows = [item.model_dump() for item in work_items().values()]
    with store.session() as session:
        upsert_items(session, rows)
        session.commit()
    with store.session() as session:
        index = build_index(list_items(session))
    assert len(index) == len(rows)
    assert index.similar("ID-7", 1)[0].key == "PAY-1"
