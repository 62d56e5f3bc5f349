"""tools/refine.py end to end on real coco_mini images, and its bad input."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from ..conftest import REPO_ROOT, run_tool, save_model

CONFIG = osp.join(REPO_ROOT, 'configs', 'posefix_r18_coco-mini-128x96.py')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A randomly initialised PoseFix saved locally (no training needed)."""
    return save_model(CONFIG, tmp_path_factory.mktemp('ckpt') / 'posefix.pth')


@pytest.fixture(scope='module')
def predictions(coco_mini):
    with open(osp.join(coco_mini,
                       'predictions/blazepose_full_val2017.json')) as f:
        return json.load(f)


def run_refine(args):
    """tools/refine.py in this process; returns main()'s AP table."""
    return run_tool('refine', args)


def common(checkpoint, coco_mini, input_path, out):
    return [
        CONFIG, checkpoint, '--input', input_path, '--img-dir',
        osp.join(coco_mini, 'val2017'), '--out', out, '--batch-size', 16
    ]


def write(tmp_path, obj, name='input.json'):
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return str(path)


def test_refines_blazepose_results(blazepose_file, checkpoint, coco_mini,
                                   predictions, tmp_path, capsys):
    out = tmp_path / 'refined.json'
    vis = tmp_path / 'vis'
    table = run_refine(
        common(checkpoint, coco_mini, write(tmp_path, predictions), out) + [
            '--ann',
            osp.join(coco_mini, 'annotations/person_keypoints_val2017.json'),
            '--vis-dir', vis
        ])
    refined = json.loads(out.read_text())
    assert len(refined) == len(predictions)  # one output per input entry
    for src, dst in zip(predictions, refined):
        assert dst['image_id'] == src['image_id']
        assert dst['score'] == pytest.approx(src['score'])
        assert len(dst['keypoints']) == 51
        # joint scores follow the input (default --keypoint-score input)
        assert dst['keypoints'][2::3] == pytest.approx(src['keypoints'][2::3])
    # BlazePose's AP on this split, as pycocotools computes it
    assert table['input']['AP'] == pytest.approx(blazepose_file.ap)
    assert 0 <= table['refined']['AP'] <= 1
    printed = capsys.readouterr().out
    assert 'input' in printed and 'refined' in printed and 'AP' in printed
    # a picture per person, the largest OKS changes first, then the
    # persons matched to nobody
    pictures = sorted(os.listdir(vis))
    assert len(pictures) == len(predictions)
    kinds = [name.split('_')[1] for name in pictures]
    matched = [k for k in kinds if k != 'unmatched']
    assert kinds == matched + ['unmatched'] * (len(kinds) - len(matched))
    assert all(k[:4] in ('gain', 'loss', 'same') for k in matched)
    changes = [float(k[4:]) for k in matched]
    assert changes == sorted(changes, reverse=True) and changes[0] > 0


BAD_FILES = [
    ('not json', '{"image_id": 1,', 'not a UTF-8 JSON file'),
    ('not a list', {'image_id': 1}, 'expected a list'),
    ('empty list', [], 'empty'),
    ('missing field', [{'image_id': 1, 'category_id': 1, 'score': 1.}],
     'entry 0: missing field "keypoints"'),
    ('wrong type', [{'image_id': '785', 'category_id': 1,
                     'keypoints': [0.] * 51, 'score': 1.}],
     'entry 0: field "image_id" must be int'),
    ('wrong length', [{'image_id': 785, 'category_id': 1,
                       'keypoints': [0.] * 50, 'score': 1.}],
     'entry 0: field "keypoints" has 50 values'),
    ('nan', [{'image_id': 785, 'category_id': 1,
              'keypoints': [float('nan')] + [0.] * 50, 'score': 1.}],
     r'entry 0: field "keypoints"\[0\] is not finite'),
    ('inf score', [{'image_id': 785, 'category_id': 1,
                    'keypoints': [0.] * 51, 'score': float('inf')}],
     'entry 0: field "score" is not finite'),
    ('int beyond float', '[{"image_id": 785, "category_id": 1, '
     '"keypoints": [1' + '0' * 400 + ', ' + '0, ' * 49 + '0], "score": 1}]',
     r'entry 0: field "keypoints"\[0\] is not finite'),
    ('score beyond float', '[{"image_id": 785, "category_id": 1, '
     '"keypoints": [' + '0, ' * 50 + '0], "score": 1' + '0' * 400 + '}]',
     'entry 0: field "score" is not finite'),
    ('int beyond python', '[{"image_id": 785, "category_id": 1, '
     '"keypoints": [1' + '0' * 5000 + ', ' + '0, ' * 49 + '0], "score": 1}]',
     'not a UTF-8 JSON file'),
]


@pytest.mark.parametrize(
    'name, content, message', BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_malformed_input_refused_nothing_written(checkpoint, coco_mini,
                                                 predictions, tmp_path, name,
                                                 content, message):
    if name == 'wrong type':  # a good entry first: the index must be named
        content = [predictions[0]] + content
        message = message.replace('entry 0', 'entry 1')
    out = tmp_path / 'refined.json'
    with pytest.raises(SystemExit, match=message):
        run_refine(
            common(checkpoint, coco_mini, write(tmp_path, content), out))
    assert os.listdir(tmp_path) == ['input.json']


@pytest.mark.parametrize('name, data', [
    ('utf-16', '[]'.encode('utf-16')),
    ('binary', bytes(range(256)) * 4),
])
def test_undecodable_input_names_the_file(checkpoint, coco_mini, tmp_path,
                                          name, data):
    path = tmp_path / 'input.json'
    path.write_bytes(data)
    with pytest.raises(SystemExit, match=f'{path}: not a UTF-8 JSON file'):
        run_refine(
            common(checkpoint, coco_mini, str(path), tmp_path / 'out.json'))
    assert os.listdir(tmp_path) == ['input.json']


def test_utf8_bom_is_read(checkpoint, coco_mini, predictions, tmp_path):
    path = tmp_path / 'input.json'
    path.write_bytes(json.dumps(predictions[:2]).encode('utf-8-sig'))
    out = tmp_path / 'out.json'
    run_refine(common(checkpoint, coco_mini, str(path), out))
    assert len(json.loads(out.read_text())) == 2


def test_bad_output_paths_refused_before_work(checkpoint, coco_mini,
                                              predictions, tmp_path):
    inp = write(tmp_path, predictions[:2])
    a_file = tmp_path / 'a_file'
    a_file.write_text('x')
    cases = [
        (['--out', tmp_path], 'is a folder'),
        (['--out', inp], 'is the --input file'),
        (['--out', a_file / 'out.json'], 'is a file, not a folder'),
        (['--out', tmp_path / 'o.json', '--vis-dir', a_file],
         'is a file, not a folder'),
    ]
    for extra, message in cases:
        args = [CONFIG, checkpoint, '--input', inp, '--img-dir',
                osp.join(coco_mini, 'val2017')] + extra
        with pytest.raises(SystemExit, match=message):
            run_refine(args)
        assert sorted(os.listdir(tmp_path)) == ['a_file', 'input.json']
        assert json.loads(open(inp).read()) == predictions[:2]


def test_nan_model_writes_nothing(coco_mini, predictions, tmp_path):
    def poison(model):
        for p in model.head.parameters():
            p.data.fill_(float('nan'))

    ckpt = save_model(CONFIG, tmp_path / 'nan.pth', poison)
    out = tmp_path / 'refined.json'
    with pytest.raises(SystemExit, match='no entry could be refined'):
        run_refine(
            common(ckpt, coco_mini, write(tmp_path, predictions[:3]), out))
    assert not out.exists()


def test_output_is_strict_json_with_umask_permissions(tmp_path):
    from posefix_mm.apis import dump_json_atomic
    with pytest.raises(ValueError):
        dump_json_atomic([float('nan')], str(tmp_path / 'nan.json'))
    assert os.listdir(tmp_path) == []
    old = os.umask(0o027)
    try:
        dump_json_atomic([1.5], str(tmp_path / 'ok.json'))
    finally:
        os.umask(old)
    assert oct(os.stat(tmp_path / 'ok.json').st_mode & 0o777) == oct(0o640)


def _bomb_png(width: int, height: int) -> bytes:
    """A PNG header claiming more pixels than OpenCV will decode."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data +
                struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))

    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) +
            chunk(b'IDAT', zlib.compress(b'\0' * 16)) + chunk(b'IEND', b''))


def _skippable(predictions, coco_mini, tmp_path):
    """Four refinable entries and one of each kind that cannot be refined."""
    good = predictions[:4]
    zero = dict(predictions[4], score=0.)
    cat = dict(predictions[5], category_id=2)
    unknown = dict(predictions[6], image_id=999999999)
    broken = []
    for i, content in enumerate(
            [b'not a jpg', b'', _bomb_png(100000, 100000)]):
        image_id = 123456789010 + i
        with open(osp.join(tmp_path, f'{image_id:012d}.jpg'), 'wb') as f:
            f.write(content)  # undecodable, zero bytes, decompression bomb
        broken.append(dict(predictions[7 + i], image_id=image_id))
    return good + [zero, cat, unknown] + broken


def test_unrefinable_entries_skipped_and_counted(checkpoint, coco_mini,
                                                 predictions, tmp_path,
                                                 capsys):
    img_dir = tmp_path / 'images'
    img_dir.mkdir()
    for image_id in {p['image_id'] for p in predictions[:4]}:
        name = f'{image_id:012d}.jpg'
        os.symlink(osp.join(coco_mini, 'val2017', name), img_dir / name)
    entries = _skippable(predictions, coco_mini, img_dir)
    out = tmp_path / 'refined.json'
    args = [
        CONFIG, checkpoint, '--input',
        write(tmp_path, entries), '--img-dir', img_dir, '--out', out
    ]
    run_refine(args)
    printed = capsys.readouterr().out
    # the refined file replaces the input entry for entry, in order: the
    # four refined, the others as they were with the reason
    written = json.loads(out.read_text())
    assert [w['image_id'] for w in written] == [
        e['image_id'] for e in entries
    ]
    assert [w.get('not_refined') for w in written] == [None] * 4 + [
        'score <= 0', 'not a person (category_id != 1)',
        'image file missing'
    ] + ['unreadable image'] * 3
    for w, e in zip(written[4:], entries[4:]):
        assert {k: v for k, v in w.items() if k != 'not_refined'} == e
    assert all('keypoint_peaks' in w for w in written[:4])
    assert 'refined 4 of 10 entries' in printed
    assert '1 x score <= 0' in printed
    assert '1 x not a person' in printed
    assert '1 x image file missing' in printed  # unknown id: no such file
    assert '3 x unreadable image' in printed
    # the unreadable files are named, as the inferencer names them
    [named] = [line for line in printed.splitlines()
               if 'unreadable: ' in line]
    for entry in entries[-3:]:
        assert f'{entry["image_id"]:012d}.jpg' in named
    out.unlink()
    with pytest.raises(SystemExit, match='--strict'):
        run_refine(args + ['--strict'])
    assert not out.exists()


def test_unknown_image_id_with_ann(checkpoint, coco_mini, predictions,
                                   tmp_path, capsys):
    entries = predictions[:3] + [dict(predictions[3], image_id=999999999)]
    out = tmp_path / 'refined.json'
    run_refine(
        common(checkpoint, coco_mini, write(tmp_path, entries), out) +
        ['--ann',
         osp.join(coco_mini, 'annotations/person_keypoints_val2017.json')])
    written = json.loads(out.read_text())
    assert len(written) == 4
    assert written[3]['not_refined'] == 'image_id not in the annotations'
    printed = capsys.readouterr().out
    assert '1 x image_id not in the annotations' in printed
    # the AP table scores the annotated images' entries only
    assert '(3 poses, 3 of them refined)' in printed


def test_heatmap_scores_option(checkpoint, coco_mini, predictions, tmp_path):
    out = tmp_path / 'refined.json'
    run_refine(
        common(checkpoint, coco_mini, write(tmp_path, predictions[:5]), out) +
        ['--keypoint-score', 'heatmap', '--instance-score', 'heatmap'])
    for src, dst in zip(predictions, json.loads(out.read_text())):
        peaks = dst['keypoints'][2::3]
        assert all(0 < p <= 1 for p in peaks)
        assert peaks != pytest.approx(src['keypoints'][2::3])
        assert dst['score'] == pytest.approx(src['score'] * sum(peaks) / 17,
                                             rel=1e-5)


DEMO_CONFIG = osp.join(REPO_ROOT, 'configs',
                       'posefix_r18_coco-mini-lspet-128x96.py')


@pytest.fixture(scope='module')
def prior_checkpoint(tmp_path_factory):
    """The demo model (input prior, per-joint decision) untrained: its head
    returns the input pose where there is one, so only absent joints move."""
    return save_model(DEMO_CONFIG,
                      tmp_path_factory.mktemp('ckpt') / 'prior.pth')


def test_damaged_file_refined_not_below_its_input(prior_checkpoint,
                                                  coco_mini, predictions,
                                                  tmp_path):
    """A third of BlazePose's joints set to (0, 0, 0), as estimators write a
    missed joint: they must neither pull the crops to the image corner nor
    stay at (0, 0); the refined file must not score below its input."""
    rng = np.random.default_rng(0)
    damaged = []
    for entry in predictions:
        kpts = np.asarray(entry['keypoints'], np.float64).reshape(-1, 3)
        kpts[rng.choice(17, 17 // 3, replace=False)] = 0
        damaged.append(dict(entry, keypoints=kpts.ravel().tolist()))
    out = tmp_path / 'refined.json'
    table = run_refine([
        DEMO_CONFIG, prior_checkpoint, '--input',
        write(tmp_path, damaged), '--img-dir',
        osp.join(coco_mini, 'val2017'), '--out', out, '--ann',
        osp.join(coco_mini, 'annotations/person_keypoints_val2017.json')
    ])
    assert table['input']['AP'] < 0.2  # the damage shows
    assert table['refined']['AP'] >= table['input']['AP']
    for src, dst in zip(damaged, json.loads(out.read_text())):
        src_k = np.asarray(src['keypoints']).reshape(-1, 3)
        dst_k = np.asarray(dst['keypoints']).reshape(-1, 3)
        absent = (src_k[:, :2] == 0).all(1)
        assert (dst_k[absent, :2] != 0).all(1).all()  # placed by the refiner
        assert (dst_k[absent, 2] > 0).all()  # scored by its confidence
        # the per-joint decision's probabilities ride along, 1 where absent
        probs = np.asarray(dst['keypoint_refine_probs'])
        assert probs.shape == (17, ) and ((probs >= 0) & (probs <= 1)).all()
        np.testing.assert_array_equal(probs[absent], 1)


def test_given_boxes_are_used_and_bad_ones_skipped(checkpoint, coco_mini,
                                                   predictions, tmp_path,
                                                   capsys):
    entries = [dict(p) for p in predictions[:4]]
    entries[1]['bbox'] = [10.0, 20.0, 0.0, 50.0]  # no area
    entries[2]['bbox'] = [10.0, 20.0, float('nan'), 50.0]
    entries[3]['bbox'] = [1.0, 2.0, 3.0]  # malformed: refused before work
    out = tmp_path / 'refined.json'
    with pytest.raises(SystemExit, match='entry 3: field "bbox"'):
        run_refine(
            common(checkpoint, coco_mini, write(tmp_path, entries), out))
    assert not out.exists()
    entries[3]['bbox'] = [100.0, 50.0, 80.0, 200.0]
    run_refine(
        common(checkpoint, coco_mini, write(tmp_path, entries), out))
    written = json.loads(out.read_text())
    assert [w.get('not_refined') for w in written] == [
        None, 'bbox not finite or without area',
        'bbox not finite or without area', None
    ]
    # strict JSON: the NaN of the entry written back is null
    assert written[2]['bbox'] == [10.0, 20.0, None, 50.0]
    assert '2 x bbox not finite or without area' in capsys.readouterr().out
    out.unlink()
    run_refine(
        common(checkpoint, coco_mini, write(tmp_path, entries), out) +
        ['--box-source', 'keypoints'])
    assert len(json.loads(out.read_text())) == 4  # the boxes are ignored


def test_checkpoint_of_another_model_refused(coco_mini, predictions,
                                             tmp_path):
    ckpt = save_model(
        osp.join(REPO_ROOT, 'configs', 'baselines',
                 'td-hm_res18_coco-mini-128x96.py'),
        tmp_path / 'simplebaseline.pth')
    out = tmp_path / 'refined.json'
    with pytest.raises(SystemExit, match='does not fit the model'):
        run_refine(
            common(ckpt, coco_mini, write(tmp_path, predictions[:2]), out))
    assert not out.exists()


def test_two_processes_write_what_one_writes(blazepose_file, checkpoint,
                                              coco_mini, tmp_path):
    """--launcher pytorch with 2 CPU processes (gloo): each refines its
    share, rank 0 writes the merged file, equal to one process's (loading
    in 2 DataLoader workers there, in the main process here)."""
    import random
    import subprocess
    import sys
    args = [
        CONFIG, checkpoint, '--input',
        f'{coco_mini}/predictions/blazepose_full_val2017.json', '--img-dir',
        f'{coco_mini}/val2017', '--batch-size', '8'
    ]
    run_tool('refine', args + ['--out', tmp_path / 'one.json', '--workers',
                               '2'])
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
        '2', '--master_port',
        str(random.randint(20000, 30000)),
        osp.join(REPO_ROOT, 'tools', 'refine.py'), *map(str, args), '--out',
        str(tmp_path / 'two.json'), '--workers', '0', '--launcher', 'pytorch'
    ], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    one = json.loads((tmp_path / 'one.json').read_text())
    two = json.loads((tmp_path / 'two.json').read_text())
    assert len(one) == len(two) == blazepose_file.count
    for a, b in zip(one, two):
        assert (a['image_id'], a['score']) == (b['image_id'], b['score'])
        np.testing.assert_allclose(a['keypoints'], b['keypoints'], atol=1e-3)


@pytest.mark.parametrize('far', [1e9, 1e12])
def test_entry_far_out_skipped_and_counted(checkpoint, coco_mini,
                                           predictions, tmp_path, capsys,
                                           far):
    """Joints at 1e9 leave no box at float32 precision: that entry is a
    counted skip, the others are refined (pictures too)."""
    absurd = dict(predictions[0], keypoints=[far, far, 1.0] * 17)
    out = tmp_path / 'refined.json'
    run_refine(
        common(checkpoint, coco_mini,
               write(tmp_path, predictions[:3] + [absurd]), out) +
        ['--vis-dir', tmp_path / 'vis'])
    written = json.loads(out.read_text())
    assert len(written) == 4
    assert written[3]['not_refined'].startswith('person box without extent')
    assert '1 x person box without extent' in capsys.readouterr().out
    assert len(os.listdir(tmp_path / 'vis')) == 3


def test_img_dir_without_the_images(checkpoint, coco_mini, predictions,
                                    tmp_path, capsys):
    """No image of the file in --img-dir: exit 2 before any work, one line
    naming the rule and the first missing file; nothing written."""
    empty = tmp_path / 'images'
    empty.mkdir()
    out = tmp_path / 'refined.json'
    args = common(checkpoint, coco_mini, write(tmp_path, predictions[:5]),
                  out)
    args[args.index('--img-dir') + 1] = empty
    with pytest.raises(SystemExit) as exit_info:
        run_refine(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    first = osp.join(empty, f'{predictions[0]["image_id"]:012d}.jpg')
    assert len(err) == 1 and first in err[0] and '{image_id:012d}' in err[0]
    assert not out.exists()


def test_missing_images_named_in_the_summary(checkpoint, coco_mini,
                                             predictions, tmp_path, capsys):
    lost = [dict(p, image_id=900000000 + i) for i, p in
            enumerate(predictions[:4])]
    out = tmp_path / 'refined.json'
    run_refine(
        common(checkpoint, coco_mini, write(tmp_path, predictions[:2] + lost),
               out))
    printed = capsys.readouterr().out
    assert '4 x image file missing' in printed
    names = [osp.join(coco_mini, 'val2017', f'{900000000 + i:012d}.jpg')
             for i in range(4)]
    assert all(name in printed for name in names[:3])
    assert names[3] not in printed and 'and 1 more' in printed


def test_missing_config_named(checkpoint, coco_mini, predictions, tmp_path):
    args = common(checkpoint, coco_mini, write(tmp_path, predictions[:2]),
                  tmp_path / 'refined.json')
    args[0] = tmp_path / 'nope.py'
    with pytest.raises(SystemExit, match='CONFIG: no file .*nope.py'):
        run_refine(args)
