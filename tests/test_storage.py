"""gs:// paths are their bucket's Cloud Storage FUSE mount; anything else is refused."""

import pytest

from xlmr_flax.storage import local_path


def test_local_paths_are_unchanged():
    assert local_path("runs/x") == "runs/x"
    assert local_path("/data/download") == "/data/download"


def test_gs_urls_map_into_the_mounted_bucket(tmp_path, monkeypatch):
    monkeypatch.setenv("XLMR_FLAX_GCS_MOUNT", str(tmp_path))
    (tmp_path / "my-bucket").mkdir()
    assert local_path("gs://my-bucket/runs/x") == str(tmp_path / "my-bucket" / "runs" / "x")
    assert local_path("gs://my-bucket") == str(tmp_path / "my-bucket")


def test_an_unmounted_bucket_names_the_setting_and_the_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("XLMR_FLAX_GCS_MOUNT", str(tmp_path))
    with pytest.raises(ValueError, match=r"--out gs://other/x: bucket other is not mounted"):
        local_path("gs://other/x", "--out")


@pytest.mark.parametrize("url", ["s3://bucket/x", "gs:///x", "https://example.org/x"])
def test_other_urls_are_refused(url):
    with pytest.raises(ValueError, match="expected a local folder or gs://BUCKET/PATH"):
        local_path(url)
