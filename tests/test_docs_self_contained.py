"""What a user clones is complete on its own.

1. No tracked text file (code, comments, docstrings, configs, docs, tests, tools,
   benchmarks, README, Makefile, requirements) cites the project's private design
   notes, which are not shipped: their file names, their section numbers, their
   decision ids or their labels. A sentence that needs such a fact states it.
2. Every relative markdown link in README.md, docs/*.md and configs/*/README.md
   leads to a file in the repository (and, with ``#anchor``, to a heading there).
3. Every ``configs/...`` path those pages name (in prose or in a command) exists.

The scan is parametrised by top-level entry of the repository, so one part can be
checked alone: ``pytest tests/test_docs_self_contained.py -k "docs or configs"``.
Each checker also runs on planted files in a temporary directory (the controls).
"""
import os.path as osp
import re
import subprocess
from typing import Dict, Iterable, List, Optional, Pattern, Set, Tuple

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# The patterns are written so that this file does not match them itself: the
# section sign is an escape, literal brackets and dots are escaped.
SECTION = '\u00a7'
NOTE_PATTERNS: List[Tuple[str, Pattern]] = [
    # any section sign: the notes are cited as "<file> <sign>1.2"
    ('section sign', re.compile(SECTION)),
    # the notes' file names, unless part of a path (docs/pad.md is a real page)
    # or the target of a markdown link (checked by the link test)
    ('notes file name',
     re.compile(r'(?<![\w/.\-])(?<!\]\()(?:pad|sop|aligndet)\.md\b')),
    ('design notes file', re.compile(r'\bDESIGN\.md\b')),
    ('notes directory',
     re.compile(r'(?:\.\./|/work/)shared\b|\bshared/(?:spec|DESIGN)\b')),
    ('notes label', re.compile(r'\[project design\]', re.IGNORECASE)),
    # the notes by another name: "the" / "see" / a method name before the word,
    # its possessive, or the word followed by a decision id or a number
    ('spec reference',
     re.compile(r"\b(?:the|see|aligndet|pad|sop)\s+spec\b|\bspec's\b"
                r'|\bspecs?\s+(?:D\d|\d)', re.IGNORECASE)),
    # decision ids: a capital D and one or two digits, standing alone
    # (case-sensitive; "1-D", "Conv2d", "r50-d8" are fine)
    ('decision id', re.compile(r'(?<![\w\-])D\d{1,2}\b')),
    # numbered defects of the notes' lists: the word defect (optionally after
    # "reference-") followed by a number, optionally prefixed with R
    ('defect id',
     re.compile(r'\b(?:reference[- ])?defects?\s+R?\d+(?:\.\d+)?\b',
                re.IGNORECASE)),
]


def tracked_files(root: str) -> List[str]:
    """Paths (relative to ``root``) that ``git ls-files`` lists; skips the test
    when ``root`` is not a git checkout."""
    try:
        out = subprocess.run(['git', '-C', root, 'ls-files', '-z'],
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f'{root} is not a git checkout ({err}); nothing to scan')
    return sorted(p for p in out.decode('utf-8').split('\0') if p)


def read_text(path: str) -> Optional[str]:
    """The file's text, or None for a binary file (a NUL byte, or not UTF-8)
    and for a tracked path missing from the work tree (a deleted file)."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if b'\0' in data:
        return None
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        return None


def find_note_references(text: str) -> List[Tuple[int, str, str]]:
    """(line number, pattern name, line) of every citation of the private notes."""
    hits = []
    for number, line in enumerate(text.splitlines(), 1):
        for name, pattern in NOTE_PATTERNS:
            if pattern.search(line):
                hits.append((number, name, line.strip()))
    return hits


def scan(root: str, paths: Iterable[str]) -> List[str]:
    """``path:line: [pattern] text`` for every citation in the text files."""
    found = []
    for rel in paths:
        text = read_text(osp.join(root, rel))
        if text is None:
            continue
        for number, name, line in find_note_references(text):
            found.append(f'{rel}:{number}: [{name}] {line[:160]}')
    return found


def _top_level(paths: Iterable[str]) -> List[str]:
    return sorted({p.split('/', 1)[0] for p in paths})


def _tracked_or_empty(root: str) -> List[str]:
    try:
        return tracked_files(root)
    except pytest.skip.Exception:
        return []


_TRACKED = _tracked_or_empty(REPO)


@pytest.mark.parametrize('top', _top_level(_TRACKED))
def test_no_reference_to_private_notes(top: str):
    paths = [p for p in tracked_files(REPO)
             if p == top or p.startswith(top + '/')]
    found = scan(REPO, paths)
    assert not found, (
        f'{len(found)} line(s) under {top} cite the private design notes, which '
        'are not shipped; state the fact, its real source (the paper, the '
        "authors' code) or mmpad's reason instead:\n" + '\n'.join(found[:80]))


def test_scanner_finds_planted_references_and_ignores_real_uses(tmp_path):
    """Control: each pattern finds its planted citation, in a tracked file of a
    fresh git repository; the real uses next to them are not hits; binary and
    untracked files are not read."""
    sign = SECTION
    planted = {
        'section sign': f'# see {sign}4.1',
        'notes file name': '"""Init order (' + 'pad' + '.md, 1.4)."""',
        'design notes file': '# as in ' + 'DESIGN' + '.md',
        'notes directory': 'written down in `..' + '/shared/' + 'spec/`',
        'notes label': '# sampling [project' + ' design]',
        'spec reference': '# batch 16 (the ' + 'spec says so)',
        'decision id': '# lr 5e-5 (' + 'D' + '6)',
        'defect id': '# exempt (reference-' + 'defect R' + '3)',
    }
    real_uses = [
        'See `docs/pad.md` and [the PAD page](pad.md#configs).',
        'spec = importlib.util.spec_from_file_location(name, path)',
        'module = importlib.util.module_from_spec(spec)',
        "TORCH_SPEC = 'torch==2.4'",
        'no weight decay on 1-D tensors; Conv2d; deeplabv3plus_r50-d8_4xb4',
        'the inspection spec of the checkpoint loader',
        'three defects fixed; a DETR-like head',
    ]
    lines = [f'{name}: {text}' for name, text in planted.items()]
    (tmp_path / 'planted.py').write_text('\n'.join(lines + real_uses) + '\n')
    (tmp_path / 'binary.bin').write_bytes(b'\0\1' + planted['decision id'].encode())
    (tmp_path / 'untracked.md').write_text(planted['section sign'] + '\n')
    subprocess.run(['git', 'init', '-q', str(tmp_path)], check=True)
    subprocess.run(['git', '-C', str(tmp_path), 'add', 'planted.py', 'binary.bin'],
                   check=True)

    paths = tracked_files(str(tmp_path))
    assert paths == ['binary.bin', 'planted.py']
    found = scan(str(tmp_path), paths)
    by_line: Dict[int, List[str]] = {}
    for hit in found:
        by_line.setdefault(int(hit.split(':')[1]), []).append(hit)
    for number, (name, text) in enumerate(planted.items(), 1):
        assert any(f'[{name}]' in hit for hit in by_line.get(number, [])), (
            name, text, found)
    assert all(hit.startswith('planted.py:') for hit in found), found
    assert max(by_line) == len(planted), found  # no real use is a hit


# --------------------------------------------------------------- markdown links
_FENCE = re.compile(r'^\s*(```|~~~)')
_INLINE_LINK = re.compile(r'!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
_REF_DEF = re.compile(r'^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$')
_HEADING = re.compile(r'^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$')
_SCHEME = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.\-]*:')


def _prose_lines(text: str) -> List[Tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    out, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append((number, line))
    return out


def heading_anchors(text: str) -> Set[str]:
    """The anchors GitHub gives the headings: lower case, punctuation dropped,
    spaces to hyphens, ``-1``, ``-2`` ... for repeats."""
    seen: Dict[str, int] = {}
    anchors = set()
    for _, line in _prose_lines(text):
        m = _HEADING.match(line)
        if not m:
            continue
        title = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', m.group(1))
        slug = re.sub(r'[^\w\- ]', '', title.strip().lower()).replace(' ', '-')
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f'{slug}-{count}')
    return anchors


def broken_links(root: str, md_path: str) -> List[str]:
    """``page:line: target (problem)`` for each relative link of ``md_path``
    (relative to ``root``) whose file or heading does not exist."""
    text = read_text(osp.join(root, md_path)) or ''
    problems = []
    for number, line in _prose_lines(text):
        line = re.sub(r'`[^`]*`', '', line)  # links are not read inside code spans
        targets = _INLINE_LINK.findall(line)
        m = _REF_DEF.match(line)
        if m:
            targets.append(m.group(1))
        for target in targets:
            if _SCHEME.match(target):
                continue  # http(s), mailto: not a file of the repository
            file_part, _, anchor = target.partition('#')
            dest = (osp.normpath(osp.join(osp.dirname(md_path), file_part))
                    if file_part else md_path)
            where = f'{md_path}:{number}: {target}'
            if dest.startswith('..') or osp.isabs(dest):
                problems.append(f'{where} (leaves the repository)')
            elif not osp.exists(osp.join(root, dest)):
                problems.append(f'{where} (no such file: {dest})')
            elif anchor and dest.endswith('.md') and anchor not in heading_anchors(
                    read_text(osp.join(root, dest)) or ''):
                problems.append(f'{where} (no heading #{anchor} in {dest})')
    return problems


def user_pages(paths: Iterable[str]) -> List[str]:
    """README.md, docs/*.md and configs/*/README.md among ``paths``."""
    return [p for p in paths
            if p == 'README.md' or re.fullmatch(r'docs/[^/]+\.md', p)
            or re.fullmatch(r'configs/[^/]+/README\.md', p)]


def test_markdown_links_resolve():
    paths = tracked_files(REPO)
    pages = user_pages(paths)
    assert 'README.md' in pages and any(p.startswith('docs/') for p in pages)
    problems = [p for page in pages for p in broken_links(REPO, page)]
    assert not problems, 'broken relative links:\n' + '\n'.join(problems)


def test_link_checker_control(tmp_path):
    (tmp_path / 'docs').mkdir()
    (tmp_path / 'docs' / 'data.md').write_text('# Data\n\n## Bad data: skipped\n')
    (tmp_path / 'README.md').write_text(
        'Good: [data](docs/data.md), [bad data](docs/data.md#bad-data-skipped),\n'
        '[web](https://example.com/x.md), [self](#intro).\n'
        '# Intro\n'
        'Broken: [gone](docs/missing.md)\n'
        'Broken: [anchor](docs/data.md#no-such-heading)\n'
        'Broken: [out](../private/notes.md)\n'
        '[ref]: docs/also_missing.md\n'
        '```\n[not a link](inside/a/fence.md)\n```\n'
        'Code: `[x](not/a/link.md)`\n')
    problems = broken_links(str(tmp_path), 'README.md')
    assert [p.split(':')[1] for p in problems] == ['4', '5', '6', '7'], problems
    assert 'no such file: docs/missing.md' in problems[0]
    assert 'no heading #no-such-heading' in problems[1]
    assert 'leaves the repository' in problems[2]
    assert user_pages(['README.md', 'docs/data.md', 'docs/sub/x.md',
                       'configs/sop/README.md', 'configs/sop/a/README.md',
                       'mmpad/README.md']) == [
        'README.md', 'docs/data.md', 'configs/sop/README.md']


# ------------------------------------------------------- config paths in the docs
_CONFIG_PATH = re.compile(r'(?<![\w/.\-])configs/[\w./{},@+*<>$\[\]\-]*')
_PLACEHOLDER = re.compile(r'[*<>$\[\]]|\.\.\.|\u2026')


def expand_braces(path: str) -> List[str]:
    """``a{-pad,}_b`` -> ``['a-pad_b', 'a_b']`` (shell brace expansion)."""
    m = re.search(r'\{([^{}]*)\}', path)
    if not m:
        return [path]
    return [p for alt in m.group(1).split(',')
            for p in expand_braces(path[:m.start()] + alt + path[m.end():])]


def missing_config_paths(root: str, md_path: str) -> List[str]:
    """``page:line: path`` for each ``configs/...`` path named on the page
    (prose and commands alike) that does not exist; paths with a placeholder
    (``*``, ``<...>``, ``$VAR``, ``[...]``, ``...``) are not checked."""
    text = read_text(osp.join(root, md_path)) or ''
    missing = []
    for number, line in enumerate(text.splitlines(), 1):
        for token in _CONFIG_PATH.findall(line):
            token = token.rstrip('.,')
            if _PLACEHOLDER.search(token):
                continue
            for path in expand_braces(token):
                if not osp.exists(osp.join(root, path)):
                    missing.append(f'{md_path}:{number}: {path}')
    return missing


def test_config_paths_named_in_the_docs_exist():
    missing = [m for page in user_pages(tracked_files(REPO))
               for m in missing_config_paths(REPO, page)]
    assert not missing, ('config paths that do not exist (renamed? see '
                         'CHANGELOG.md):\n' + '\n'.join(missing))


def test_config_path_checker_control(tmp_path):
    (tmp_path / 'configs' / 'pad').mkdir(parents=True)
    for name in ('upernet_vit-b-pad_soda.py', 'upernet_vit-b_soda.py'):
        (tmp_path / 'configs' / 'pad' / name).write_text('')
    (tmp_path / 'README.md').write_text(
        'Run `configs/pad/upernet_vit-b{-pad,}_soda.py`.\n'
        'python tools/train.py configs/pad/upernet_mae-b_soda-512x512.py --amp\n'
        'See configs/pad/upernet_vit-b{-pad,-old}_soda.py, configs/pad/*.py,\n'
        'configs/pad/<name>.py and configs/pad/.\n')
    assert missing_config_paths(str(tmp_path), 'README.md') == [
        'README.md:2: configs/pad/upernet_mae-b_soda-512x512.py',
        'README.md:3: configs/pad/upernet_vit-b-old_soda.py']
