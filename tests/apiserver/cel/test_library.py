import pytest

from apiserver.cel import CompileError, EvaluationError, compile_expression


def test_lists_and_strings():
    assert compile_expression("[1, 2, 3].isSorted() && [1, 2].sum() == 3").evaluate({})
    assert compile_expression("[3, 1].max() == 3 && 'a,b'.split(',').size() == 2").evaluate({})


def test_variables_and_errors():
    assert compile_expression("object.spec.replicas <= 5").evaluate(
        {"object": {"spec": {"replicas": 3}}})
    with pytest.raises(CompileError):
        compile_expression("nosuch(1)")
    with pytest.raises(EvaluationError):
        compile_expression("object.missing == 1").evaluate({"object": {}})
