"""Models reach task media as the project's own Label Studio user, through one shared cache."""

from __future__ import annotations

from backends.sdk.catalog import get_manifest
from backends.sdk.model import Model, Project


def test_each_project_gets_a_resolver_signed_in_as_its_label_studio(tmp_path):
    model = Model(get_manifest("interactive_substring_matching"), {}, tmp_path)
    first = Project(id="1", directory=tmp_path / "1", hostname="http://ls:8080", access_token="a")
    same_studio = Project(
        id="2", directory=tmp_path / "2", hostname="http://ls:8080", access_token="a"
    )
    other = Project(
        id="3", directory=tmp_path / "3", hostname="http://other:8080", access_token="b"
    )

    assert model.media(first) is model.media(same_studio)
    assert model.media(other) is not model.media(first)
    assert model.media(other).hostname == "http://other:8080"
    assert (tmp_path / "media-cache").is_dir()
