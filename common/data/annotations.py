"""Readers for the annotation files of the action-recognition datasets and code bases.

Every reader returns a list of `VideoRecord`; every parsing error is an `AnnotationError` whose message starts with
``file:line:``, and a file without entries is one too. A UTF-8 byte-order mark (Windows editors) is ignored. In the
separated formats a path that contains the separator (Kinetics class folders such as ``air drumming/``) is written
in double quotes, csv-style (``"air drumming/x.mp4" 3``), as ``common.tools.build_lists`` writes it. Relative paths are joined to ``data_root`` (absolute paths are kept). Frame ranges are 0-based and
end-exclusive: a record covers frames ``[start_frame, end_frame)`` of its video or folder (``end_frame=None``: to the
end), and ``num_frames`` counts the frames in that range when the file says (None when it does not).

| reader | file format | as used by |
|---|---|---|
| `read_slowfast_csv` | ``path<sep>label`` | PySlowFast Kinetics csv, MMAction video lists |
| `read_rawframe_list` | ``folder num_frames label`` | TSN / TSM / MMAction raw-frame lists |
| `read_ssv2` | labels json (template -> id) + split json (id, template) | Something-Something v2 release |
| `read_sthv1` | category csv + ``id;category`` csv | Something-Something v1 release |
| `read_jester` | category csv + ``id;category`` csv | Jester release |
| `read_epic100` | EPIC-KITCHENS-100 csv (verb/noun class, 1-based start/stop frame) | EPIC-KITCHENS-100 release |
"""
from __future__ import annotations

import csv
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AnnotationError", "VideoRecord", "read_class_names", "read_slowfast_csv", "read_rawframe_list", "read_ssv2",
    "read_sthv1", "read_jester", "read_epic100", "EPIC100_NUM_VERBS", "EPIC100_NUM_NOUNS",
]

EPIC100_NUM_VERBS = 97
EPIC100_NUM_NOUNS = 300

PathLike = str | os.PathLike


class AnnotationError(ValueError):
    """A malformed annotation file; the message starts with ``file:line:``."""

    def __init__(self, file: PathLike, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line = str(file), line


@dataclass(frozen=True)
class VideoRecord:
    """One annotated video (or segment of a video).

    Attributes:
        path: video file or frame folder, already joined to the data root.
        label: class index, or a dict of class indices for multi-head datasets (EPIC: ``{"verb", "noun"}``).
        num_frames: frames in ``[start_frame, end_frame)`` when the annotation states it, else None.
        start_frame: first frame (0-based, inclusive).
        end_frame: last frame (0-based, exclusive); None means the end of the video.
        source: ``file:line`` the record came from, for error messages.
    """

    path: str
    label: int | dict[str, int]
    num_frames: int | None = None
    start_frame: int = 0
    end_frame: int | None = None
    source: str = ""


def _join(data_root: PathLike | None, path: str) -> str:
    if data_root is None or os.path.isabs(path):
        return path
    return os.path.join(data_root, path)


def _int_field(value: str, name: str, file: PathLike, line: int) -> int:
    try:
        return int(value)
    except ValueError:
        raise AnnotationError(file, line, f"{name} {value!r} is not an integer") from None


def _check_label(label: int, num_classes: int | None, file: PathLike, line: int, name: str = "label") -> int:
    if label < 0 or (num_classes is not None and label >= num_classes):
        bound = f"[0, {num_classes})" if num_classes is not None else ">= 0"
        raise AnnotationError(file, line, f"{name} {label} outside {bound}")
    return label


def _lines(path: PathLike) -> list[tuple[int, str]]:
    """Non-empty lines with their 1-based numbers (a leading BOM dropped); missing files raise FileNotFoundError
    naming the path."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: annotation file does not exist") from None
    except UnicodeDecodeError as error:
        raise AnnotationError(path, 1, f"not a UTF-8 text file ({error})") from None
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def _fields(line: str, separator: str, file: PathLike, number: int) -> list[str]:
    """``line`` split at ``separator``; a field in double quotes may contain the separator (csv quoting)."""
    if '"' not in line or len(separator) != 1:
        return line.split(separator)
    try:
        return next(csv.reader([line], delimiter=separator, quotechar='"', strict=True))
    except csv.Error as error:
        raise AnnotationError(file, number, f"bad quoting ({error}): {line!r}") from None


def _some(records: list, path: PathLike, example: str) -> list:
    if not records:
        raise AnnotationError(path, 1, f"no entries (the file is empty or only blank lines); it needs one line per "
                                       f"video, e.g. {example} (python -m common.tools.build_lists writes such lists)")
    return records


def _field_count_error(path: PathLike, number: int, line: str, expected: str, found: int,
                       separator: str) -> AnnotationError:
    return AnnotationError(path, number, f"expected {expected.count(separator) + 1} fields {expected!r}, got {found}: "
                                         f"{line!r} (a path that contains {separator!r} must be in double quotes, or "
                                         f"choose another separator)")


def read_class_names(path: PathLike) -> list[str]:
    """Class names in label order: one per line (``category.txt``), or a json ``{name: id}`` / list."""
    if str(path).endswith(".json"):
        mapping = _load_json(path)
        if isinstance(mapping, list):
            return [str(name) for name in mapping]
        by_id = sorted((int(index), name) for name, index in mapping.items())
        if [index for index, _ in by_id] != list(range(len(by_id))):
            raise AnnotationError(path, 1, "class ids are not 0..N-1")
        return [name for _, name in by_id]
    return [line for _, line in _lines(path)]


def read_slowfast_csv(path: PathLike, *, data_root: PathLike | None = None, separator: str = " ",
                      num_classes: int | None = None) -> list[VideoRecord]:
    """PySlowFast ``{train,val,test}.csv``: ``path<separator>label`` per line, exactly two fields (``separator``
    is PySlowFast's ``DATA.PATH_LABEL_SEPARATOR``; the entry points' ``--path-label-separator``)."""
    records = []
    for number, line in _lines(path):
        fields = _fields(line, separator, path, number)
        if len(fields) != 2:
            raise _field_count_error(path, number, line, f"path{separator}label", len(fields), separator)
        label = _check_label(_int_field(fields[1], "label", path, number), num_classes, path, number)
        records.append(VideoRecord(_join(data_root, fields[0]), label, source=f"{path}:{number}"))
    return _some(records, path, f"'videos/abc.mp4{separator}3'")


def read_rawframe_list(path: PathLike, *, data_root: PathLike | None = None, num_classes: int | None = None,
                       drop_empty: bool = True) -> list[VideoRecord]:
    """TSN / TSM / MMAction raw-frame list: ``folder num_frames label`` separated by single spaces.

    ``drop_empty`` drops rows with ``num_frames < 1`` with a warning; otherwise they raise. The reference loaders'
    own rules (TSM drops fewer than 3 frames, MAS-Net fewer than ``new_length``) are
    ``common.data.samplers.drop_short_videos``.
    """
    records, dropped = [], 0
    for number, line in _lines(path):
        fields = _fields(line, " ", path, number)
        if len(fields) != 3:
            raise _field_count_error(path, number, line, "folder num_frames label", len(fields), " ")
        num_frames = _int_field(fields[1], "num_frames", path, number)
        label = _check_label(_int_field(fields[2], "label", path, number), num_classes, path, number)
        if num_frames < 1:
            if not drop_empty:
                raise AnnotationError(path, number, f"num_frames {num_frames} < 1")
            dropped += 1
            continue
        records.append(VideoRecord(_join(data_root, fields[0]), label, num_frames, source=f"{path}:{number}"))
    if dropped:
        warnings.warn(f"{path}: dropped {dropped} rows with num_frames < 1", stacklevel=2)
    return _some(records, path, "'frames/abc 32 3'")


def _load_json(path: PathLike):
    try:
        with open(path, encoding="utf-8-sig") as file:
            return json.load(file)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: annotation file does not exist") from None
    except json.JSONDecodeError as error:
        raise AnnotationError(path, error.lineno, f"invalid json ({error.msg})") from None


class _JsonLines:
    """Line numbers of successive entries of a json list (json.load keeps no positions): each entry is found by
    searching for its id after the previous one, so a whole file costs one pass."""

    def __init__(self, path: PathLike) -> None:
        self.text, self.offset, self.line = Path(path).read_text(encoding="utf-8-sig"), 0, 1

    def line_of(self, needle: str) -> int:
        found = self.text.find(needle, self.offset) if needle else -1
        if found < 0:
            return self.line
        self.line += self.text.count("\n", self.offset, found)
        self.offset = found
        return self.line


def _ssv2_template_name(template: str) -> str:
    """The official loaders remove the ``[...]`` markers around placeholders before looking a template up."""
    return template.replace("[", "").replace("]", "")


def read_ssv2(labels_json: PathLike, split_json: PathLike, *, data_root: PathLike | None = None,
              path_template: str = "{id}", num_classes: int | None = None) -> list[VideoRecord]:
    """Something-Something v2: ``something-something-v2-labels.json`` and a train/validation json.

    The labels json maps a template (without brackets) to a class id string; each split entry has ``id`` and
    ``template`` (with ``[something]`` brackets). ``path_template`` turns an id into a path: ``"{id}"`` for frame
    folders, ``"{id}.webm"`` for the released videos.
    """
    class_of = {name: int(index) for name, index in _load_json(labels_json).items()}
    num_classes = len(class_of) if num_classes is None else num_classes
    entries = _load_json(split_json)
    if not isinstance(entries, list):
        raise AnnotationError(split_json, 1, "expected a json list of {'id', 'template', ...} objects")
    lines, records = _JsonLines(split_json), []
    for position, entry in enumerate(entries):
        where = lines.line_of(json.dumps(entry.get("id")) if isinstance(entry, dict) else "")
        if not isinstance(entry, dict) or "id" not in entry or "template" not in entry:
            raise AnnotationError(split_json, where, f"entry {position} lacks 'id' or 'template': {entry!r}"[:200])
        name = _ssv2_template_name(entry["template"])
        if name not in class_of:
            raise AnnotationError(split_json, where, f"entry {position}: template {name!r} is not in {labels_json}")
        label = _check_label(class_of[name], num_classes, split_json, where)
        path = path_template.format(id=entry["id"])
        records.append(VideoRecord(_join(data_root, path), label, source=f"{split_json}:{where}"))
    return _some(records, split_json, "{'id': '1', 'template': 'Holding [something]'}")


def _read_semicolon_split(categories_csv: PathLike, split_csv: PathLike, data_root: PathLike | None,
                          path_template: str, sort_categories: bool, num_classes: int | None) -> list[VideoRecord]:
    names = read_class_names(categories_csv)
    if sort_categories:
        names = sorted(names)
    class_of = {name: index for index, name in enumerate(names)}
    records = []
    for number, line in _lines(split_csv):
        fields = line.split(";")
        if len(fields) != 2:
            raise AnnotationError(split_csv, number, f"expected 2 fields 'id;category', got {len(fields)}: {line!r}")
        if fields[1] not in class_of:
            raise AnnotationError(split_csv, number, f"category {fields[1]!r} is not in {categories_csv}")
        label = _check_label(class_of[fields[1]], num_classes, split_csv, number)
        path = path_template.format(id=fields[0])
        records.append(VideoRecord(_join(data_root, path), label, source=f"{split_csv}:{number}"))
    return _some(records, split_csv, "'1;Holding something'")


def read_sthv1(categories_csv: PathLike, split_csv: PathLike, *, data_root: PathLike | None = None,
               path_template: str = "{id}", sort_categories: bool = True,
               num_classes: int | None = None) -> list[VideoRecord]:
    """Something-Something v1: ``something-something-v1-labels.csv`` and ``-train.csv`` / ``-validation.csv``.

    Labels index the alphabetically sorted category list, as TSM's ``gen_label_sthv1`` writes ``category.txt``
    (the left/right label swap of the flip depends on that order).
    """
    return _read_semicolon_split(categories_csv, split_csv, data_root, path_template, sort_categories, num_classes)


def read_jester(categories_csv: PathLike, split_csv: PathLike, *, data_root: PathLike | None = None,
                path_template: str = "{id}", sort_categories: bool = False,
                num_classes: int | None = None) -> list[VideoRecord]:
    """Jester: ``jester-v1-labels.csv`` and ``jester-v1-train.csv`` / ``-validation.csv`` (``id;category``).

    Labels follow the order of the category file (``sort_categories=True`` sorts it, as for Something v1).
    """
    return _read_semicolon_split(categories_csv, split_csv, data_root, path_template, sort_categories, num_classes)


_EPIC_COLUMNS = ("participant_id", "video_id", "start_frame", "stop_frame", "verb_class", "noun_class")


def read_epic100(csv_path: PathLike, *, data_root: PathLike | None = None,
                 path_template: str = "{participant_id}/rgb_frames/{video_id}", num_verbs: int = EPIC100_NUM_VERBS,
                 num_nouns: int = EPIC100_NUM_NOUNS) -> list[VideoRecord]:
    """EPIC-KITCHENS-100 ``EPIC_100_train.csv`` / ``EPIC_100_validation.csv``.

    ``start_frame`` / ``stop_frame`` are 1-based inclusive frame numbers in the file; the record holds the 0-based
    end-exclusive range ``[start_frame - 1, stop_frame)``. Labels are ``{"verb": verb_class, "noun": noun_class}``.
    """
    try:
        file = open(csv_path, newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise FileNotFoundError(f"{csv_path}: annotation file does not exist") from None
    records = []
    with file:
        reader = csv.DictReader(file)
        missing = [column for column in _EPIC_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise AnnotationError(csv_path, 1, f"header lacks EPIC-100 columns {missing}")
        for row in reader:
            number = reader.line_num
            if None in row or any(row[column] is None for column in _EPIC_COLUMNS):
                raise AnnotationError(csv_path, number, f"expected {len(reader.fieldnames)} fields")
            start = _int_field(row["start_frame"], "start_frame", csv_path, number)
            stop = _int_field(row["stop_frame"], "stop_frame", csv_path, number)
            if start < 1 or stop < start:
                raise AnnotationError(csv_path, number, f"bad frame range start_frame={start} stop_frame={stop}")
            label = {
                "verb": _check_label(_int_field(row["verb_class"], "verb_class", csv_path, number), num_verbs,
                                     csv_path, number, "verb_class"),
                "noun": _check_label(_int_field(row["noun_class"], "noun_class", csv_path, number), num_nouns,
                                     csv_path, number, "noun_class"),
            }
            path = path_template.format(participant_id=row["participant_id"], video_id=row["video_id"])
            records.append(VideoRecord(_join(data_root, path), label, stop - start + 1, start - 1, stop,
                                       source=f"{csv_path}:{number}"))
    return _some(records, csv_path, "a row under the EPIC-100 header")
