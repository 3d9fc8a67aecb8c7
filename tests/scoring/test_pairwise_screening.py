"""Screening pairwise judges: panel agreement, circular triads and repeated pairs, by hand."""

import math

import numpy as np
import pytest

from scoring.comparisons import Comparison, ComparisonsTable
from scoring.pairwise_screening import (
    circular_triads,
    kendall_zeta,
    panel_agreement,
    repeat_agreement,
    transitivity,
)


def table_of(*records: tuple) -> ComparisonsTable:
    return ComparisonsTable.from_comparisons([Comparison(*r) for r in records])


def test_panel_agreement_as_worked_by_hand():
    # the panel's P(first preferred) for the judge's comparisons: 0.8, 0.8, 0.5, (a tie)
    # choices: first, second, first -> o = 0.8, 0.2, 0.5: observed 1.5 of 3
    # a judge like the panel: p^2 + (1-p)^2 = 0.68, 0.68, 0.5 -> 1.86
    # variance p (1-p) (2p-1)^2 = 0.0576, 0.0576, 0 -> 0.1152
    # z = (1.5 - 1.86) / sqrt(0.1152); index (1.5 - 1.5) / (1.86 - 1.5) = 0
    table = table_of(("j", "i", "A", "B", "first"), ("j", "i", "A", "C", "second"),
                     ("j", "i", "B", "C", "first"), ("j", "i2", "A", "B", "tie"))
    (agreement,) = panel_agreement(table, lambda t, j: np.array([0.8, 0.8, 0.5, 0.9]))
    assert agreement.comparisons == 3
    assert agreement.observed == pytest.approx(0.5)
    assert agreement.panel == pytest.approx(0.62)
    assert agreement.chance == 0.5
    assert agreement.z == pytest.approx(-0.36 / math.sqrt(0.1152))
    assert agreement.index == pytest.approx(0.0)
    (nobody,) = panel_agreement(table, lambda t, j: None)
    assert (nobody.comparisons, nobody.z) == (0, None)


def test_circular_triads_and_kendall_zeta_as_worked_by_hand():
    # A > B > C > A is circular; n = 3: d_max = (27 - 3) / 24 = 1 -> zeta 0
    cycle = np.array([[0, 1, -1], [-1, 0, 1], [1, -1, 0]])
    assert circular_triads(cycle) == (1, 1) and kendall_zeta(1, 3) == 0.0
    # add D, beaten by all: triads ABC (circular), ABD, ACD, BCD; n = 4: d_max = 48/24 = 2
    four = np.array([[0, 1, -1, 1], [-1, 0, 1, 1], [1, -1, 0, 1], [-1, -1, -1, 0]])
    assert circular_triads(four) == (4, 1) and kendall_zeta(1, 4) == 0.5
    assert kendall_zeta(0, 5) == 1.0 and kendall_zeta(5, 5) == 0.0  # d_max(5) = 120/24


def test_transitivity_per_judge_and_image():
    table = table_of(("j1", "i1", "A", "B", "first"), ("j1", "i1", "B", "C", "first"),
                     ("j1", "i1", "C", "A", "first"),  # a cycle on i1
                     ("j1", "i2", "A", "B", "first"), ("j1", "i2", "B", "C", "first"),
                     ("j1", "i2", "A", "C", "first"),  # consistent on i2
                     ("j2", "i1", "A", "B", "first"), ("j2", "i1", "B", "C", "tie"),
                     ("j2", "i1", "C", "A", "first"))  # a tie leaves the triad incomplete
    j1, j2 = transitivity(table)
    assert (j1.triads, j1.circular, j1.share, j1.tournaments) == (2, 1, 0.5, 2)
    assert j1.zeta == pytest.approx(0.5)  # mean of 0 (i1) and 1 (i2)
    assert (j2.triads, j2.circular, j2.share, j2.zeta) == (0, 0, None, None)


def test_repeat_agreement_as_worked_by_hand():
    table = table_of(("j1", "i1", "A", "B", "first"), ("j1", "i1", "B", "A", "second", 1),  # same
                     ("j1", "i2", "A", "B", "first"), ("j1", "i2", "A", "B", "tie", 1),  # half
                     ("j1", "i3", "A", "B", "first"), ("j1", "i3", "A", "B", "second", 1),  # no
                     ("j2", "i1", "A", "B", "first"))
    j1, j2 = repeat_agreement(table)
    assert (j1.pairs, j1.agreement) == (3, pytest.approx(0.5))
    assert (j2.pairs, j2.agreement) == (0, None)
