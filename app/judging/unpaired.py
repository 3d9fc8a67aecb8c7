"""Checks an unpaired-phase upload against the phase's inputs: one result per input, same sizes.

A2's submission path calls ``check_unpaired_submission`` after the upload itself has been
validated (decodable images, unique stems); it returns every problem, each naming a file,
and an empty list when the upload matches the inputs.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from metrics.images import IMAGE_SUFFIXES, ImageSet, Problem, inspect_image


def image_sizes(images: ImageSet, max_pixels: int) -> dict[str, tuple[str, tuple[int, int] | None]]:
    """stem -> (file name, (width, height) or None when undecodable) for every image file."""
    sizes: dict[str, tuple[str, tuple[int, int] | None]] = {}
    for name in images.names():
        path = PurePosixPath(name)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        info, _ = inspect_image(images.read(name), name, max_pixels)
        sizes[path.stem] = (name, (info.width, info.height) if info else None)
    return sizes


def check_unpaired_submission(upload: Path, inputs: Path, *, max_pixels: int,
                              check_sizes: bool = True) -> list[Problem]:
    """Every way ``upload`` (zip or folder) departs from the ``inputs`` folder, by file."""
    submitted, expected = ImageSet(upload, "submission"), ImageSet(inputs, "inputs")
    try:
        got = image_sizes(submitted, max_pixels)
        want = image_sizes(expected, max_pixels)
    finally:
        submitted.close()
        expected.close()
    problems = [Problem(f"{stem}.*", f"missing: the phase has an input named {want[stem][0]}")
                for stem in sorted(want.keys() - got.keys())]
    problems += [Problem(got[stem][0], "extra file: the phase has no input with this name")
                 for stem in sorted(got.keys() - want.keys())]
    if check_sizes:
        for stem in sorted(got.keys() & want.keys()):
            (name, size), (input_name, input_size) = got[stem], want[stem]
            if size is not None and input_size is not None and size != input_size:
                problems.append(Problem(name, f"size {size[0]}x{size[1]} differs from the input "
                                              f"{input_name} ({input_size[0]}x{input_size[1]})"))
    return problems
