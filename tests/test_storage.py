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


def test_paths_read_from_records_stay_inside_their_folder(tmp_path):
    from xlmr_flax.storage import confined

    assert confined(str(tmp_path), "stages/a/eval/x.json") == str(
        tmp_path.resolve() / "stages/a/eval/x.json"
    )
    for bad in ("/etc/passwd", "../outside.json", "stages/../../x", ""):
        with pytest.raises(ValueError, match="examples"):
            confined(str(tmp_path), bad, "examples")
    (tmp_path / "link").symlink_to("/etc")
    with pytest.raises(ValueError, match="leaves"):
        confined(str(tmp_path), "link/passwd", "examples")


def test_a_weight_index_names_files_of_its_own_folder_only(tmp_path):
    import json

    from xlmr_flax.errors import CheckpointError
    from xlmr_flax.hf_io import SAFETENSORS_INDEX, weight_files

    index = tmp_path / SAFETENSORS_INDEX
    index.write_text(json.dumps({"weight_map": {"a": "model-1.safetensors"}}))
    assert weight_files(str(tmp_path)) == [str(tmp_path / "model-1.safetensors")]
    for bad in ("../../etc/x.safetensors", "/abs/x.safetensors", ".."):
        index.write_text(json.dumps({"weight_map": {"a": bad}}))
        with pytest.raises(CheckpointError, match="is not a file name in"):
            weight_files(str(tmp_path))
