"""MediaResolver against a real Label Studio: an uploaded image comes back byte for byte.

The image is imported as a file, exactly as a user drops it into the Data Manager, and the
resolver is given the link Label Studio put into the task, with each kind of token.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from label_studio_sdk import LabelStudio
from PIL import Image

from backends.sdk.media import MediaAuthError, MediaNotFound, MediaResolver

pytestmark = pytest.mark.e2e

IMAGE_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="label" toName="image"><Choice value="red"/><Choice value="blue"/></Choices>
</View>"""


@dataclass
class Upload:
    task_id: int
    value: str  # what Label Studio wrote into the task, e.g. /data/upload/1/3f2a-red.png
    content: bytes


@contextmanager
def uploaded_image(url: str, api_key: str) -> Iterator[Upload]:
    """A project holding one imported PNG, deleted afterwards (the instance is shared)."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "PNG")
    client = LabelStudio(base_url=url, api_key=api_key)
    project = client.projects.create(title="media resolver e2e", label_config=IMAGE_CONFIG)
    try:
        # The SDK imports task dicts only; a file goes through the import API as multipart.
        response = httpx.post(
            f"{url}/api/projects/{project.id}/import",
            headers=_authorization(url, api_key),
            files={"file": ("red.png", buffer.getvalue(), "image/png")},
        )
        assert response.status_code == 201, response.text
        (task,) = client.tasks.list(project=project.id)
        yield Upload(task.id, task.data["image"], buffer.getvalue())
    finally:
        client.projects.delete(project.id)


def _authorization(url: str, api_key: str) -> dict[str, str]:
    """Label Studio's documented scheme: a PAT is exchanged for a Bearer access token."""
    if api_key.count(".") != 2:
        return {"Authorization": f"Token {api_key}"}
    response = httpx.post(f"{url}/api/token/refresh/", json={"refresh": api_key})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access']}"}


@pytest.fixture(scope="module")
def upload(label_studio) -> Iterator[Upload]:
    with uploaded_image(label_studio.url, label_studio.legacy_token) as image:
        yield image


def test_uploaded_image_resolves_with_the_legacy_token(label_studio, upload, tmp_path):
    assert upload.value.startswith("/data/upload/")

    with MediaResolver(label_studio.url, label_studio.legacy_token, tmp_path) as resolver:
        path = resolver.resolve(upload.value, task_id=upload.task_id)

    assert path.read_bytes() == upload.content
    assert path.suffix == ".png"


def test_personal_access_token_works_where_legacy_tokens_are_disabled(
    label_studio_pat_only, tmp_path
):
    """The 1.23 default organization: only PATs work, legacy tokens get a clear 401."""
    server = label_studio_pat_only
    with uploaded_image(server.url, server.pat()) as upload:
        with MediaResolver(server.url, server.pat(), tmp_path / "pat") as resolver:
            path = resolver.resolve(upload.value, task_id=upload.task_id)
        assert path.read_bytes() == upload.content

        with (
            MediaResolver(server.url, server.legacy_token, tmp_path / "legacy") as resolver,
            pytest.raises(MediaAuthError) as caught,
        ):
            resolver.resolve(upload.value, task_id=upload.task_id)

    message = str(caught.value)
    assert message.startswith(f"401 from Label Studio while downloading {upload.value}: ")
    assert "legacy tokens are disabled — use a Personal Access Token" in message
    assert "legacy token authentication has been disabled for this organization" in message


def test_storage_data_link_to_an_upload_resolves(label_studio, upload, tmp_path):
    """Label Studio answers /storage-data/uploaded/ with 400 unless nginx serves uploads."""
    value = "/storage-data/uploaded/?filepath=" + upload.value.removeprefix("/data/")

    with MediaResolver(label_studio.url, label_studio.legacy_token, tmp_path) as resolver:
        assert resolver.resolve(value).read_bytes() == upload.content


def test_wrong_token_is_explained_with_label_studios_reason(label_studio, upload, tmp_path):
    with (
        MediaResolver(label_studio.url, "not-the-token", tmp_path) as resolver,
        pytest.raises(MediaAuthError) as caught,
    ):
        resolver.resolve(upload.value)

    message = str(caught.value)
    assert message.startswith(f"401 from Label Studio while downloading {upload.value}: ")
    assert "use a Personal Access Token" in message
    assert "(Label Studio said: Invalid token.)" in message


def test_missing_upload_is_reported_as_not_found(label_studio, upload, tmp_path):
    """Label Studio 1.23 answers 500 (not 404) for an upload it has no record of."""
    missing = upload.value.rsplit("/", 1)[0] + "/no-such-file.png"

    with (
        MediaResolver(label_studio.url, label_studio.legacy_token, tmp_path) as resolver,
        pytest.raises(MediaNotFound, match="the file does not exist"),
    ):
        resolver.resolve(missing)
