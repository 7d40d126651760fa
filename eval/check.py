#!/usr/bin/env python3
"""Validate the vault evaluation set (eval/notes.jsonl and eval/queries.jsonl).

Standard library only. Usage:

    python3 eval/check.py [--notes eval/notes.jsonl] [--queries eval/queries.jsonl] [-v] [--neighbours N]

Checks
  notes.jsonl    every line a JSON object {"title", "content", "tags"}; titles non-empty,
                 at most 200 characters and unique; content 40-400 words; 1-4 tags, each
                 lower-case, 1-64 characters, no duplicates within a note.
  queries.jsonl  every line a JSON object {"query", "relevant", "kind"}; kind one of
                 keyword / paraphrase / no_overlap; 1-3 relevant titles, each an exact title
                 from notes.jsonl; no duplicate queries.
  overlap        a "no_overlap" query shares no content word with any of its relevant notes
                 (title, content and tags); a "keyword" or "paraphrase" query shares at least
                 one (otherwise it is mislabelled).
  domains        every note's first tag names its domain (see DOMAINS); a query's domain is
                 that of its first relevant note. Counts per domain are printed.
  totals         at least 200 notes and 120 queries, and at least a third of the queries
                 (and at least 15) are "no_overlap".

With --neighbours N it also prints, for every query, the N notes outside its relevant list
that share the most words with it (a crude BM25 over the same stems), so a reviewer can read
them and decide whether the label is missing one. It is an aid for reading, not a check.

Content words: the text is lower-cased and split into alphabetic runs ([a-z]+, so
"pg_dump" gives "pg" and "dump", and "Rex's" gives "rex" and "s"); single letters and the
stop words below are dropped. Two words count as the same word when their crude stems meet:
each word stands for itself plus every form left after stripping one of the suffixes
-s, -es, -ed, -ing, -ly (when at least 3 letters remain), and two words match if those sets
intersect ("boiled" ~ "boil", "moves" ~ "move", "leaking" ~ "leak"). This is deliberately
cruder and more eager to match than a real stemmer, so a query that passes shares no word
with its answer in any of these forms.

Prints a summary; exits 1 on any problem, 0 otherwise.
"""

import argparse
import json
import math
import os
import re
import sys
from collections import Counter

KINDS = ("keyword", "paraphrase", "no_overlap")
SUFFIXES = ("ing", "es", "ed", "ly", "s")
MIN_NOTES, MIN_QUERIES, MIN_NO_OVERLAP = 200, 120, 15
MIN_WORDS, MAX_WORDS = 40, 400

# A note's domain is given by its first tag.
DOMAINS = {
    "software": ["git", "postgres", "sysadmin", "linux", "python", "docker", "sql", "bash", "c", "javascript",
                 "regex", "tmux", "jq", "dotfiles", "vim", "backup", "nas", "sqlite", "redis", "home network"],
    "household": ["cooking", "baking", "home repair", "household", "finance", "tax", "gardening", "garden",
                  "plants", "parenting", "pets", "car", "gifts"],
    "reading": ["books", "articles", "ideas", "quotes"],
    "work": ["work"],
    "travel": ["travel", "hiking"],
    "health": ["health", "running", "fitness"],
    "hobbies": ["photography", "music", "films", "spanish", "german", "language learning", "climbing",
                "swimming", "chess", "woodworking", "birds", "games"],
}
DOMAIN_OF = {tag: d for d, tags in DOMAINS.items() for tag in tags}


def domain(note):
    return DOMAIN_OF.get(note["tags"][0]) if note["tags"] else None

# A classic English stop-word list (function words only: articles, pronouns, auxiliaries,
# prepositions, conjunctions, question words), plus the fragments left by splitting
# contractions on the apostrophe (don't -> don, t).
STOP_WORDS = frozenset("""
a about above after again against all am an and any are aren as at
be because been before being below between both but by
can cannot could couldn
did didn do does doesn doing don down during
each few for from further
had hadn has hasn have haven having he her here hers herself him himself his how
i if in into is isn it its itself
just let ll
me more most mustn my myself
no nor not now
of off on once only or other ought our ours ourselves out over own
re same shan she should shouldn so some such
than that the their theirs them themselves then there these they this those through to too
under until up
ve very was wasn we were weren what when where which while who whom why will with won would wouldn
you your yours yourself yourselves
""".split())


def words(text):
    """Content words of a text: lower-cased alphabetic runs minus stop words and single letters."""
    return [w for w in re.findall(r"[^\W\d_]+", text.lower()) if len(w) > 1 and w not in STOP_WORDS]


def stems(word):
    """The word itself plus each form left after stripping one suffix (at least 3 letters kept)."""
    out = {word}
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.add(word[: -len(suffix)])
    return out


def note_text(note):
    return " ".join([note["title"], note["content"], " ".join(note["tags"])])


def shared_words(query, notes):
    """Query content words that match (by crude stem) a word of any of the given notes."""
    vocab = set()
    for note in notes:
        for w in set(words(note_text(note))):
            vocab |= stems(w)
    return sorted({w for w in words(query) if stems(w) & vocab})


def neighbour_finder(notes):
    """A function (query, relevant, n) -> the n notes outside `relevant` that score highest for
    the query: BM25 (k1 1.2, b 0.75) where a query word counts by its best-scoring crude stem."""
    tfs = {t: Counter(s for w in words(note_text(note)) for s in stems(w)) for t, note in notes.items()}
    lengths = {t: sum(tf.values()) for t, tf in tfs.items()}
    avg = sum(lengths.values()) / max(len(lengths), 1)
    df = Counter(s for tf in tfs.values() for s in tf)

    def term(tf, length, s):
        idf = math.log(1 + (len(tfs) - df[s] + 0.5) / (df[s] + 0.5))
        return idf * tf[s] * 2.2 / (tf[s] + 1.2 * (0.25 + 0.75 * length / avg))

    def find(query, relevant, n):
        scored = []
        for title, tf in tfs.items():
            if title in relevant:
                continue
            score = sum(max((term(tf, lengths[title], s) for s in stems(w) if tf[s]), default=0.0)
                        for w in set(words(query)))
            if score > 0:
                scored.append((score, title))
        return sorted(scored, reverse=True)[:n]

    return find


def read_jsonl(path, problems):
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    problems.append(f"{path}:{lineno}: blank line")
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    problems.append(f"{path}:{lineno}: invalid JSON: {e}")
                    continue
                if not isinstance(obj, dict):
                    problems.append(f"{path}:{lineno}: not a JSON object")
                    continue
                rows.append((lineno, obj))
    except OSError as e:
        problems.append(f"{path}: {e}")
    return rows


def check_notes(path, problems):
    notes = {}
    word_counts = []
    for lineno, obj in read_jsonl(path, problems):
        where = f"{path}:{lineno}"
        extra = set(obj) - {"title", "content", "tags"}
        if extra:
            problems.append(f"{where}: unexpected fields {sorted(extra)}")
        title, content, tags = obj.get("title"), obj.get("content"), obj.get("tags")
        if not isinstance(title, str) or not title.strip():
            problems.append(f"{where}: title missing or empty")
            continue
        if len(title) > 200 or title != title.strip():
            problems.append(f"{where}: title longer than 200 characters or padded: {title!r}")
        if title in notes:
            problems.append(f"{where}: duplicate title {title!r}")
            continue
        if not isinstance(content, str):
            problems.append(f"{where}: content is not a string")
            continue
        n_words = len(content.split())
        word_counts.append(n_words)
        if not MIN_WORDS <= n_words <= MAX_WORDS:
            problems.append(f"{where}: {title!r} has {n_words} words (want {MIN_WORDS}-{MAX_WORDS})")
        if not isinstance(tags, list) or not 1 <= len(tags) <= 4:
            problems.append(f"{where}: {title!r} needs a list of 1-4 tags")
            continue
        for tag in tags:
            if not isinstance(tag, str) or not 1 <= len(tag) <= 64 or tag != tag.lower() or tag != tag.strip():
                problems.append(f"{where}: {title!r} has a bad tag {tag!r} (lower-case, 1-64 characters)")
        if len(set(tags)) != len(tags):
            problems.append(f"{where}: {title!r} repeats a tag")
        notes[title] = {"title": title, "content": content, "tags": [t for t in tags if isinstance(t, str)]}
        if notes[title]["tags"] and domain(notes[title]) is None:
            problems.append(f"{where}: {title!r}: first tag {tags[0]!r} names no domain (add it to DOMAINS)")
    return notes, word_counts


def check_queries(path, notes, problems, verbose, n_neighbours):
    per_kind = Counter()
    per_domain = Counter()
    seen = set()
    n_relevant = Counter()
    targets = Counter()
    find_neighbours = neighbour_finder(notes) if n_neighbours else None
    rows = read_jsonl(path, problems)
    for lineno, obj in rows:
        where = f"{path}:{lineno}"
        extra = set(obj) - {"query", "relevant", "kind"}
        if extra:
            problems.append(f"{where}: unexpected fields {sorted(extra)}")
        query, relevant, kind = obj.get("query"), obj.get("relevant"), obj.get("kind")
        if not isinstance(query, str) or not 1 <= len(query.strip()) <= 1000:
            problems.append(f"{where}: query missing, empty or over 1000 characters")
            continue
        if query.lower() in seen:
            problems.append(f"{where}: duplicate query {query!r}")
        seen.add(query.lower())
        if kind not in KINDS:
            problems.append(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
            continue
        per_kind[kind] += 1
        if not isinstance(relevant, list) or not 1 <= len(relevant) <= 3:
            problems.append(f"{where}: relevant must list 1-3 note titles")
            continue
        if len(set(relevant)) != len(relevant):
            problems.append(f"{where}: relevant repeats a title")
        missing = [t for t in relevant if t not in notes]
        for t in missing:
            problems.append(f"{where}: relevant title not in notes: {t!r}")
        if missing:
            continue
        n_relevant[len(relevant)] += 1
        targets.update(relevant)
        per_domain[domain(notes[relevant[0]])] += 1
        if not words(query):
            problems.append(f"{where}: query has no content words: {query!r}")
            continue
        shared = shared_words(query, [notes[t] for t in relevant])
        if kind == "no_overlap" and shared:
            problems.append(f"{where}: no_overlap query {query!r} shares {shared} with its relevant notes")
        elif kind != "no_overlap" and not shared:
            problems.append(f"{where}: {kind} query {query!r} shares no content word with its relevant notes "
                            "(label it no_overlap?)")
        if verbose:
            print(f"  [{kind:10}] {query!r}: shared {shared}")
        if n_neighbours:
            print(f"  [{kind:10}] {query!r} -> {relevant}")
            for score, title in find_neighbours(query, relevant, n_neighbours):
                print(f"        {score:5.1f}  {title}")
    return len(rows), per_kind, n_relevant, targets, per_domain


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notes", default=os.path.join(here, "notes.jsonl"))
    ap.add_argument("--queries", default=os.path.join(here, "queries.jsonl"))
    ap.add_argument("-v", "--verbose", action="store_true", help="print the shared words of every query")
    ap.add_argument("--neighbours", type=int, default=0, metavar="N",
                    help="print the N best-matching notes outside each query's relevant list")
    args = ap.parse_args()

    problems = []
    notes, word_counts = check_notes(args.notes, problems)
    n_queries, per_kind, n_relevant, targets, per_domain = check_queries(args.queries, notes, problems,
                                                                         args.verbose, args.neighbours)

    if len(notes) < MIN_NOTES:
        problems.append(f"only {len(notes)} notes (want at least {MIN_NOTES})")
    if n_queries < MIN_QUERIES:
        problems.append(f"only {n_queries} queries (want at least {MIN_QUERIES})")
    if per_kind["no_overlap"] < max(MIN_NO_OVERLAP, -(-n_queries // 3)):
        problems.append(f"only {per_kind['no_overlap']} no_overlap queries of {n_queries} "
                        f"(want at least a third and at least {MIN_NO_OVERLAP})")

    tag_counts = Counter(t for n in notes.values() for t in n["tags"])
    print(f"notes:   {len(notes)} (words per note: min {min(word_counts, default=0)}, "
          f"median {sorted(word_counts)[len(word_counts) // 2] if word_counts else 0}, "
          f"max {max(word_counts, default=0)}; {len(tag_counts)} distinct tags)")
    print(f"queries: {n_queries} — " + ", ".join(f"{k} {per_kind[k]}" for k in KINDS))
    print("relevant per query: " + ", ".join(f"{k} title(s): {v}" for k, v in sorted(n_relevant.items())))
    print(f"notes that are relevant to some query: {len(targets)} of {len(notes)}")
    note_domains = Counter(domain(n) for n in notes.values())
    print("per domain (notes/queries): " + ", ".join(f"{d} {note_domains[d]}/{per_domain[d]}" for d in DOMAINS))
    if problems:
        print(f"\nFAILED — {len(problems)} problem(s):")
        for p in problems:
            print("  - " + p)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
