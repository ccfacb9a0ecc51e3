"""Label Studio label-config parsing shared by every model.

Models ask questions of the config ("which Choices control points at a Text?") instead of
walking XML themselves, so a config a model cannot serve is refused in one place with one
readable sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree import ElementTree

# Tags that hold data (what a control points at). Everything else with toName is a control.
OBJECT_TAGS = frozenset(
    {
        "Text",
        "HyperText",
        "Image",
        "Audio",
        "AudioPlus",
        "Video",
        "Paragraphs",
        "Table",
        "TimeSeries",
        "Pdf",
        "Markdown",
        "List",
        "Ranker",
    }
)


class LabelConfigError(ValueError):
    """The XML is not a label config at all (broken XML, no <View>)."""


@dataclass(frozen=True)
class ObjectTag:
    name: str
    tag: str
    value: str  # "$text" as written; ``data_key`` strips the dollar

    @property
    def data_key(self) -> str:
        return self.value.lstrip("$")


@dataclass(frozen=True)
class Control:
    name: str
    tag: str
    to_names: tuple[str, ...]
    labels: tuple[str, ...]
    attrs: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def result_type(self) -> str:
        """The ``type`` of a result region this control produces ("choices", "labels", ...)."""
        return self.tag.lower()


@dataclass(frozen=True)
class LabelConfig:
    xml: str
    controls: tuple[Control, ...]
    objects: tuple[ObjectTag, ...]

    def object(self, name: str) -> ObjectTag | None:
        return next((o for o in self.objects if o.name == name), None)

    def find(
        self, control_tag: str, object_tags: tuple[str, ...] | list[str]
    ) -> list[tuple[Control, ObjectTag]]:
        """Every (control, object) pair where a ``control_tag`` points at one of ``object_tags``."""
        pairs = []
        for control in self.controls:
            if control.tag != control_tag:
                continue
            for to_name in control.to_names:
                obj = self.object(to_name)
                if obj is not None and obj.tag in object_tags:
                    pairs.append((control, obj))
        return pairs

    def first(
        self, control_tag: str, object_tags: tuple[str, ...] | list[str]
    ) -> tuple[Control, ObjectTag]:
        pairs = self.find(control_tag, object_tags)
        if not pairs:
            raise UnsupportedConfig(missing_sentence(control_tag, object_tags, self))
        return pairs[0]

    def describe(self) -> str:
        """Short human summary, e.g. ``RectangleLabels on an Image``."""
        parts = []
        for control in self.controls:
            targets = [self.object(n) for n in control.to_names]
            tags = sorted({t.tag for t in targets if t is not None})
            parts.append(f"{control.tag} on {_a(tags[0]) if tags else 'nothing'}")
        return ", ".join(parts) if parts else "no labeling controls"


class UnsupportedConfig(ValueError):
    """The config is valid XML but this model cannot serve it; the message says why."""


def _a(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


def missing_sentence(control_tag: str, object_tags, config: LabelConfig | None) -> str:
    wanted = " or ".join(f"<{t}>" for t in object_tags)
    sentence = (
        f"needs a <{control_tag}> on {'an' if wanted[1:2].lower() in 'aeiou' else 'a'} {wanted}"
    )
    if config is not None:
        sentence += f"; this project has {config.describe()}"
    return sentence


def parse(xml: str) -> LabelConfig:
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise LabelConfigError(f"label config is not valid XML: {exc}") from exc
    if root.tag != "View":
        raise LabelConfigError(f"label config must start with <View>, not <{root.tag}>")
    controls: list[Control] = []
    objects: list[ObjectTag] = []
    for element in root.iter():
        name = element.get("name")
        if not name:
            continue
        to_name = element.get("toName")
        if to_name:
            labels = tuple(
                child.get("value") or child.get("alias") or ""
                for child in element
                if child.tag in ("Label", "Choice") and (child.get("value") or child.get("alias"))
            )
            controls.append(
                Control(
                    name=name,
                    tag=element.tag,
                    to_names=tuple(n.strip() for n in to_name.split(",") if n.strip()),
                    labels=labels,
                    attrs=dict(element.attrib),
                )
            )
        elif element.tag in OBJECT_TAGS and element.get("value"):
            objects.append(ObjectTag(name=name, tag=element.tag, value=element.get("value", "")))
    return LabelConfig(xml=xml, controls=tuple(controls), objects=tuple(objects))
