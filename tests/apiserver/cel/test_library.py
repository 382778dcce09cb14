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


@pytest.mark.parametrize("expression, text", [
    # cel-go's texts, which policies' "resulted in error" messages carry
    ("object.spec.replicaz > 0", "no such key: replicaz"),
    ("object.spec['x'] == 1", "no such key: x"),
    ("1 / object.zero == 1", "division by zero"),
    ("1 % object.zero == 1", "modulus by zero"),
])
def test_evaluation_errors_carry_cel_gos_text(expression, text):
    with pytest.raises(EvaluationError) as caught:
        compile_expression(expression).evaluate({"object": {"spec": {}, "zero": 0}})
    assert str(caught.value) == text


def _true(expression: str, **variables) -> bool:
    return compile_expression(expression).evaluate(variables) is not None and \
        bool(compile_expression(expression).evaluate(variables))


@pytest.mark.parametrize("expression, want", [
    ('quantity("1Gi").isLessThan(quantity("2Gi"))', True),
    ('quantity("2Gi").isGreaterThan(quantity("1Gi"))', True),
    ('quantity("1") == quantity("1000m")', True),
    ('quantity("500m").isInteger()', False),
    ('quantity("5").asInteger() == 5', True),
    ('quantity("1").add(quantity("500m")).compareTo(quantity("1500m")) == 0', True),
    ('quantity("1").sub(1).sign() == 0', True),
    ('quantity("-3").sign() == -1', True),
    ('quantity("1.5").asApproximateFloat() == 1.5', True),
    ('isQuantity("1Ki") && !isQuantity("12x")', True),
    ('string(quantity("1.5Gi")) == "1536Mi"', True),
])
def test_quantity_library(expression, want):
    assert _true(expression) is want


def test_quantity_errors_carry_upstream_text():
    with pytest.raises(EvaluationError, match="quantities must match the regular expression"):
        compile_expression('quantity("abc")').evaluate({})
    with pytest.raises(EvaluationError, match="cannot convert value to integer"):
        compile_expression('quantity("1.5").asInteger()').evaluate({})


@pytest.mark.parametrize("expression, want", [
    ('url("https://user@example.com:8443/a%20b?x=1").getHost() == "example.com:8443"', True),
    ('url("https://example.com:8443/p").getHostname() == "example.com"', True),
    ('url("https://example.com:8443/p").getPort() == "8443"', True),
    ('url("https://example.com/p").getPort() == ""', True),
    ('url("https://[::1]:80/").getHostname() == "::1"', True),
    ('url("https://example.com/a%20b").getEscapedPath() == "/a%20b"', True),
    ('url("https://example.com/p?x=1&x=2&y=").getQuery() == {"x": ["1", "2"], "y": [""]}', True),
    ('url("/just/a/path").getScheme() == ""', True),
    ('isURL("https://example.com") && !isURL("not a url")', True),
])
def test_url_library(expression, want):
    assert _true(expression) is want


@pytest.mark.parametrize("expression, want", [
    ('ip("10.0.0.1").family() == 4 && ip("::1").family() == 6', True),
    ('ip("::1").isLoopback() && ip("0.0.0.0").isUnspecified()', True),
    ('ip("192.168.0.1").isGlobalUnicast() && !ip("127.0.0.1").isGlobalUnicast()', True),
    ('ip("169.254.1.1").isLinkLocalUnicast()', True),
    ('isIP("10.0.0.1") && !isIP("1.2.3") && !isIP("::ffff:1.2.3.4")', True),
    ('ip.isCanonical("2001:db8::1") && !ip.isCanonical("2001:DB8::1")', True),
    ('cidr("10.0.0.0/8").containsIP("10.1.2.3") && !cidr("10.0.0.0/8").containsIP("11.0.0.1")',
     True),
    ('cidr("10.0.0.0/8").containsCIDR(cidr("10.1.0.0/16"))', True),
    ('cidr("10.1.2.3/8").masked() == cidr("10.0.0.0/8")', True),
    ('string(cidr("10.1.2.3/8").ip()) == "10.1.2.3" && cidr("10.0.0.0/8").prefixLength() == 8',
     True),
    ('isCIDR("10.0.0.0/8") && !isCIDR("10.0.0.0")', True),
])
def test_ip_and_cidr_libraries(expression, want):
    assert _true(expression) is want
