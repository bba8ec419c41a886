"""Tracing a mask's outlines into an SVG clipping path.

Boundaries run along pixel edges: every edge between a vehicle pixel and a background pixel is oriented so
the vehicle lies on its left, the edges are chained into closed loops (outer outlines counter-clockwise in
image coordinates, holes the other way), and straight runs are merged into single segments.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from PIL import Image

Vertex = tuple[int, int]


def _oriented_edges(inside: np.ndarray) -> list[tuple[Vertex, Vertex]]:
    padded = np.pad(inside, 1)
    edges: list[tuple[Vertex, Vertex]] = []
    # horizontal edges between rows y-1 and y, at grid row y (x from column x to x+1)
    rows = padded[1:, 1:-1].astype(np.int8) - padded[:-1, 1:-1].astype(np.int8)
    for y, x in zip(*np.nonzero(rows == 1), strict=True):  # vehicle below: walk right to left
        edges.append(((x + 1, y), (x, y)))
    for y, x in zip(*np.nonzero(rows == -1), strict=True):  # vehicle above: walk left to right
        edges.append(((x, y), (x + 1, y)))
    columns = padded[1:-1, 1:].astype(np.int8) - padded[1:-1, :-1].astype(np.int8)
    for y, x in zip(*np.nonzero(columns == 1), strict=True):  # vehicle to the right: walk down
        edges.append(((x, y), (x, y + 1)))
    for y, x in zip(*np.nonzero(columns == -1), strict=True):  # vehicle to the left: walk up
        edges.append(((x, y + 1), (x, y)))
    return edges


def trace_loops(mask: Image.Image | np.ndarray) -> list[list[Vertex]]:
    """Closed outlines (pixel-corner coordinates) of the pixels >= 128 of a mode L mask."""
    inside = (np.asarray(mask) >= 128) if not isinstance(mask, np.ndarray) or mask.dtype != bool else mask
    outgoing: dict[Vertex, list[Vertex]] = defaultdict(list)
    for start, end in _oriented_edges(inside):
        outgoing[start].append(end)
    loops = []
    while outgoing:
        start = next(iter(outgoing))
        loop, vertex, previous = [start], start, None
        while True:
            ends = outgoing[vertex]
            end = _turn_left_first(previous, vertex, ends) if len(ends) > 1 else ends[0]
            ends.remove(end)
            if not ends:
                del outgoing[vertex]
            previous, vertex = vertex, end
            if vertex == start:
                break
            loop.append(vertex)
        loops.append(_merge_straight_runs(loop))
    return loops


def _turn_left_first(previous: Vertex | None, vertex: Vertex, ends: list[Vertex]) -> Vertex:
    """At a corner shared by two diagonal pixels, keep the pixels apart by turning toward the vehicle."""
    if previous is None:
        return ends[0]
    heading = (vertex[0] - previous[0], vertex[1] - previous[1])
    left = (heading[1], -heading[0])
    for end in ends:
        if (end[0] - vertex[0], end[1] - vertex[1]) == left:
            return end
    return ends[0]


def _merge_straight_runs(loop: list[Vertex]) -> list[Vertex]:
    corners = []
    count = len(loop)
    for index, vertex in enumerate(loop):
        before, after = loop[index - 1], loop[(index + 1) % count]
        if (vertex[0] - before[0]) * (after[1] - vertex[1]) != (vertex[1] - before[1]) * (after[0] - vertex[0]):
            corners.append(vertex)
    return corners


def mask_to_svg(mask: Image.Image) -> str:
    """An SVG document whose path (even-odd fill) covers exactly the mask's pixels >= 128."""
    width, height = mask.size
    subpaths = []
    for loop in trace_loops(mask.convert("L")):
        points = " L ".join(f"{x} {y}" for x, y in loop)
        subpaths.append(f"M {points} Z")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
        f'<path fill-rule="evenodd" fill="#000000" d="{" ".join(subpaths)}"/></svg>\n'
    )
