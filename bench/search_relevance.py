"""Relevance of knowledge's search over the labelled questions of tests/knowledge/relevance/: MRR@10 and
recall@3, with the default synonyms and without any, on the labelled set and on the held-out one. In-process
(the pure engine of services/knowledge/domain/search.py): `make bench-relevance`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.knowledge.domain.synonyms import DEFAULT_GROUPS  # noqa: E402
from tests.knowledge.relevance.evaluate import evaluate  # noqa: E402
from tests.knowledge.relevance.questions import HELD_OUT, QUESTIONS  # noqa: E402


def main() -> None:
    verbose = "-v" in sys.argv
    print(f"{'set':<10} {'synonyms':<9} {'questions':>9} {'MRR@10':>7} {'recall@3':>9}")
    for name, questions in (("labelled", QUESTIONS), ("held-out", HELD_OUT)):
        for label, groups in (("default", DEFAULT_GROUPS), ("none", ())):
            result = evaluate(groups, questions)
            print(f"{name:<10} {label:<9} {len(questions):>9} {result.mrr_at_10:>7.3f} {result.recall_at_3:>9.3f}")
            if verbose:
                for text, top, relevant in result.misses:
                    print(f"    miss: {text}  top3={top}  relevant={sorted(relevant)}")


if __name__ == "__main__":
    main()
