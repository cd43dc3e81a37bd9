"""The lake and the published warehouse on S3, against moto's S3 server on loopback.

One small window (Binance, BTCUSDT, two days) is simulated twice with the same seed. It is landed
to a local lake and built with dbt, and landed to `s3://` (CRYPTODW_LAKE_URI) and refreshed from
there: dbt builds the models reading the lake through s3fs, the staging Great Expectations gate
reads it too, and publishing uploads the snapshot and the marts. The two must land the same files
and build the same marts, row for row. For time, dbt's data tests and the marts gate (neither
depends on where the lake is) are left out; they run in tests/dbt and tests/e2e.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json

import duckdb
import pyarrow.parquet as pq
import pytest

from include.cryptodw.assets import ANALYTICS_MODELS, MART_MODELS
from include.cryptodw.dbt_runner import DOWNSTREAM_SELECTOR, STAGING_SELECTOR, run_dbt
from include.cryptodw.offline import prepare_offline_exchange
from include.cryptodw.pipeline import land_window
from include.cryptodw.refresh import publish_snapshot, validate_layer
from include.cryptodw.settings import load_settings
from include.cryptodw.windows import Window

pytestmark = pytest.mark.slow

# dbt build of the models and seeds only
NO_TESTS = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
WINDOW = Window.parse("2026-01-31", "2026-02-02")
BUCKET = "cryptodw-lake"
LAKE_URI = f"s3://{BUCKET}/prod"


@pytest.fixture
def s3_endpoint(monkeypatch):
    """moto's S3 server on a free loopback port, with one empty bucket and test credentials."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    endpoint = f"http://{host}:{port}"
    import s3fs

    s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True).mkdir(BUCKET)
    yield endpoint
    server.stop()


def test_one_setting_moves_the_lake_and_the_published_copy(data_dir, monkeypatch):
    from include.cryptodw.dbt_runner import dbt_env

    local = load_settings()
    assert local.raw_dir == data_dir.resolve() / "lake" / "raw" and local.published_store is None
    assert dbt_env(local)["CRYPTODW_DBT_FILESYSTEMS"] == "[]"

    monkeypatch.setenv("CRYPTODW_LAKE_URI", "s3://bucket/warehouse/")
    monkeypatch.setenv("CRYPTODW_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    remote = load_settings()
    assert str(remote.manifest_dir) == "s3://bucket/warehouse/manifests"
    assert str(remote.published_store) == "s3://bucket/warehouse/published"
    assert remote.warehouse_path == local.warehouse_path  # dbt's working file stays local
    env = dbt_env(remote)
    assert env["CRYPTODW_RAW_DIR"] == "s3://bucket/warehouse/raw"
    assert ast.literal_eval(env["CRYPTODW_DBT_FILESYSTEMS"]) == [
        {"fs": "s3", "use_listings_cache": False, "endpoint_url": "http://127.0.0.1:9000"}
    ]

    for wrong in ("gs://bucket/x", "s3:///no-bucket"):
        monkeypatch.setenv("CRYPTODW_LAKE_URI", wrong)
        with pytest.raises(ValueError, match="CRYPTODW_LAKE_URI"):
            load_settings()


def _simulated_settings(monkeypatch, data_dir):
    monkeypatch.setenv("CRYPTODW_DATA_DIR", str(data_dir))
    settings = load_settings()
    prepare_offline_exchange(settings, "crash", WINDOW)
    return settings


def _files(root) -> dict[str, str]:
    """relative path -> SHA-256 of every file under a local or s3:// root."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file()
    }


def _marts(path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            name: con.execute(f"select * from marts.{name} order by all").fetchall()
            for name in (*MART_MODELS, *ANALYTICS_MODELS)
        }


def test_lake_and_published_marts_on_s3_equal_the_local_build(tmp_path, monkeypatch, s3_endpoint):
    monkeypatch.setenv("CRYPTODW_SOURCE_MODE", "simulated")
    monkeypatch.setenv("CRYPTODW_SYMBOLS", "BTCUSDT")
    monkeypatch.setenv("CRYPTODW_VENUES", "binance")

    local = _simulated_settings(monkeypatch, tmp_path / "local")
    land_window(local, WINDOW)
    run_dbt(local, "build", STAGING_SELECTOR, WINDOW, NO_TESTS)
    run_dbt(local, "build", DOWNSTREAM_SELECTOR, WINDOW, NO_TESTS)

    monkeypatch.setenv("CRYPTODW_LAKE_URI", LAKE_URI)
    monkeypatch.setenv("CRYPTODW_S3_ENDPOINT_URL", s3_endpoint)
    remote = _simulated_settings(monkeypatch, tmp_path / "remote")
    assert str(remote.raw_dir) == f"{LAKE_URI}/raw"
    land_window(remote, WINDOW)
    run_dbt(remote, "build", STAGING_SELECTOR, WINDOW, NO_TESTS)
    validate_layer(remote, "staging", WINDOW)
    run_dbt(remote, "build", DOWNSTREAM_SELECTOR, WINDOW, NO_TESTS)
    published = publish_snapshot(remote)

    # the same files, complete under their final keys, and nothing landed on local disk
    landed = _files(remote.lake_dir)
    raw = {key: sha for key, sha in landed.items() if key.startswith("raw/")}
    assert raw and raw == {f"raw/{k}": sha for k, sha in _files(local.raw_dir).items()}
    assert {k.removeprefix("raw/") for k in raw} == {
        k.removeprefix("manifests/").removesuffix(".json") + ".parquet"
        for k in landed
        if k.startswith("manifests/")
    }
    assert not [key for key in landed if "/." in f"/{key}"]  # no temp objects
    assert not (remote.data_dir / "lake").exists()

    # dbt built the marts from S3 exactly as from the local lake
    assert _marts(remote.warehouse_path) == _marts(local.warehouse_path)
    assert published.mart_rows["liquidations_daily"] > 0

    # the published snapshot and its marts are on S3, named by the pointer
    store = remote.published_store
    pointer = json.loads((store / "latest.json").read_bytes())
    assert (store / "warehouse.duckdb").read_bytes() == published.path.read_bytes()
    assert pointer["mart_rows"] == {k: len(v) for k, v in _marts(published.path).items()}
    marts = store / "snapshots" / pointer["snapshot_id"] / "marts"
    daily = pq.read_table(io.BytesIO((marts / "liquidations_daily.parquet").read_bytes()))
    assert daily.num_rows == published.mart_rows["liquidations_daily"]
