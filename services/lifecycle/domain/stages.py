"""Lifecycle stages of a product or platform (SPEC §3), in order, with their Chinese labels.

Stage transitions and their gate documents come in a later issue; they will build on `ORDER`."""

from contracts.vocabulary import STAGE_LABELS, Stage

ORDER: tuple[Stage, ...] = tuple(Stage)  # 需求提出 → 初步调研 → … → 商用 → 交付 → 下线
INITIAL = Stage.demand  # a newly registered product starts at 需求提出


def label(stage: Stage | str) -> str:
    return STAGE_LABELS[Stage(stage)]


__all__ = ["INITIAL", "ORDER", "STAGE_LABELS", "Stage", "label"]
