"""The validation cache finds a parsed document by identity, never across rules."""

from __future__ import annotations

from gql_keys.graphql.pipeline import ValidationByIdentity
from graphql import NoSchemaIntrospectionCustomRule, build_schema, parse, specified_rules

SCHEMA = build_schema("type Query { hello: String }")
RULES = tuple(specified_rules)
INTROSPECTION = "{ __schema { queryType { name } } }"


def test_the_same_document_is_validated_once_and_a_new_parse_again() -> None:
    cache = ValidationByIdentity(maxsize=8)
    document = parse("{ hello }")
    first = cache(SCHEMA, document, RULES)
    assert first == []
    assert cache(SCHEMA, document, RULES) is first
    reparsed = parse("{ hello }")
    assert cache(SCHEMA, reparsed, RULES) == []
    assert cache(SCHEMA, reparsed, RULES) is not first


def test_other_rules_never_get_an_answer_cached_for_the_document_under_others() -> None:
    cache = ValidationByIdentity(maxsize=8)
    document = parse(INTROSPECTION)
    assert cache(SCHEMA, document, RULES) == []
    refused = cache(SCHEMA, document, (*RULES, NoSchemaIntrospectionCustomRule))
    assert refused
    assert "introspection has been disabled" in refused[0].message


def test_invalid_documents_keep_their_errors_after_eviction() -> None:
    cache = ValidationByIdentity(maxsize=1)
    bad = parse("{ goodbye }")
    assert len(cache(SCHEMA, bad, RULES)) == 1
    cache(SCHEMA, parse("{ hello }"), RULES)  # evicts the first
    assert len(cache(SCHEMA, bad, RULES)) == 1
