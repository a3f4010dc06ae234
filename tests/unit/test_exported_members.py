import ormgate


def test_the_public_api_is_exactly_this() -> None:
    assert ormgate.__all__ == sorted(ormgate.__all__)
    assert set(ormgate.__all__) == {
        "BadQuery",
        "BodyLimit",
        "Conflict",
        "Event",
        "FieldInfo",
        "Filter",
        "ForeignKeyViolation",
        "Hooks",
        "Include",
        "InvalidData",
        "Limits",
        "ModelInfo",
        "ModelSchemas",
        "NotFound",
        "OrmgateError",
        "PreconditionFailed",
        "Query",
        "RelationInfo",
        "Resource",
        "Scope",
        "Sort",
        "Unavailable",
        "UniqueViolation",
        "UnitOfWork",
        "UnsupportedMediaType",
        "Waiting",
        "__version__",
        "derive",
        "install_problem_handlers",
        "item_response",
        "offline_docs",
    }
    for name in ormgate.__all__:
        assert getattr(ormgate, name) is not None
