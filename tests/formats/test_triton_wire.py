import pytest

from lpr_edge.errors import InputError
from lpr_edge.formats.triton_wire import is_url, parse_address


def test_server_urls_parse_with_default_ports_and_versions():
    a = parse_address("grpc://gpu-box:9001/lpr")
    assert (a.scheme, a.endpoint, a.model, a.version) == ("grpc", "gpu-box:9001", "lpr", "")
    assert parse_address("http://10.0.0.5/plates/3").endpoint == "10.0.0.5:8000"
    assert parse_address("http://10.0.0.5/plates/3").version == "3"
    assert str(parse_address("GRPC://h/lpr")) == "grpc://h:8001/lpr"


@pytest.mark.parametrize("bad", ["grpc://host:8001", "grpc:///lpr", "ftp://h/lpr", "grpc://h:99999/lpr",
                                 "grpc://h/lpr/latest", "grpc://h/a/1/2"])
def test_bad_urls_name_the_expected_form(bad):
    with pytest.raises(InputError, match="grpc://|version"):
        parse_address(bad)


def test_only_server_schemes_are_urls():
    assert is_url("grpc://h/lpr") and is_url("http://h:1/x")
    assert not is_url("us") and not is_url("models/x.onnx") and not is_url(None) and not is_url("https://h/x")
