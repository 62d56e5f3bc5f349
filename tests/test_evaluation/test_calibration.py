"""choose_decision_thr: the best mean gain among the thresholds that lower
no input's AP; calibrated_config: a config that is the base plus it."""
import numpy as np
import pytest
from mmengine.config import Config

from posefix_mm.evaluation.calibration import (KEEP_PRESENT,
                                               calibrated_config,
                                               choose_decision_thr)


@pytest.mark.parametrize('case, inputs, decisions, expected', [
    ('best mean gain loses on one input: refused', [0.5, 0.4],
     [{0.3: 0.60, 0.7: 0.52, 1.0: 0.5}, {0.3: 0.39, 0.7: 0.41, 1.0: 0.4}],
     0.7),
    ('the best gain on every input', [0.5, 0.4],
     [{0.3: 0.60, 0.7: 0.52, 1.0: 0.5}, {0.3: 0.45, 0.7: 0.41, 1.0: 0.4}],
     0.3),
    ('equal gains: the higher threshold', [0.5],
     [{0.3: 0.55, 0.7: 0.55, 1.0: 0.5}], 0.7),
    ('no gain anywhere: present joints kept', [0.5],
     [{0.3: 0.45, 0.7: 0.49, 1.0: 0.5}], 1.0),
    ('every threshold loses, 1.0 not tried: present joints kept', [0.5],
     [{0.3: 0.45, 0.7: 0.49}], KEEP_PRESENT),
])
def test_choose(case, inputs, decisions, expected):
    assert choose_decision_thr(inputs, decisions) == expected, case


def test_chosen_never_loses_on_the_data():
    rng = np.random.default_rng(0)
    thresholds = [0.1, 0.3, 0.5, 0.7, 0.9]
    for _ in range(500):
        n = rng.integers(1, 5)
        inputs = rng.uniform(0.1, 0.9, n)
        decisions = [{t: a + rng.normal(0, 0.02)
                      for t in thresholds} for a in inputs]
        thr = choose_decision_thr(list(inputs), decisions)
        safe = [
            t for t in thresholds
            if all(d[t] >= a for a, d in zip(inputs, decisions))
        ]
        if safe:
            assert thr in safe
            gain = np.mean([d[thr] - a for a, d in zip(inputs, decisions)])
            assert gain == max(
                np.mean([d[t] - a for a, d in zip(inputs, decisions)])
                for t in safe)
        else:
            assert thr == KEEP_PRESENT


def test_bad_tables_refused():
    with pytest.raises(ValueError, match='same thresholds'):
        choose_decision_thr([0.5, 0.5], [{0.5: 0.6}, {0.7: 0.6}])
    with pytest.raises(ValueError, match='per input'):
        choose_decision_thr([0.5], [])


def test_calibrated_config_is_the_base_with_the_threshold(tmp_path):
    base = tmp_path / 'base.py'
    base.write_text("model = dict(type='X', test_cfg=dict(flip_test=True, "
                    'decision_thr=0.7))\n')
    out = tmp_path / 'calibrated.py'
    out.write_text(calibrated_config(str(base), 0.9, 'val.json'))
    cfg = Config.fromfile(str(out))
    assert cfg.model.type == 'X'
    assert cfg.model.test_cfg == dict(flip_test=True, decision_thr=0.9)
