"""Evidence Records (RFC 4998, "Evidence Record Syntax"): one timestamp for a whole batch of archived
documents, and renewal of any number of documents' timestamps by one more.

Why: a document timestamp (B-LTA) per record costs one TSA request per record at ingest and again at every
renewal — 100,000 requests for a region's archive. An evidence record proves the same thing (this document
existed unchanged at time T, and has been kept so since) for all of them with one request per batch:

- Hash tree (§4.2). The leaves are the SHA-256 of the archived objects, deduplicated and sorted; pairs of
  nodes are hashed (their two hashes sorted in binary ascending order and concatenated, §4.2 step 4) up to a
  root, and the root is timestamped (RFC 3161) — one ArchiveTimeStamp (§4.1) for the batch. Each document
  keeps its *reduced* hash tree (§4.2, `reducedHashtree`): the first PartialHashtree holds its own hash and
  its sibling's, each further one the sibling on the way up. A node without a sibling at some level is
  carried up unchanged (no list for that level).
- Timestamp renewal (§5.2). Before a TSA certificate expires, the *timeStamp field* (the DER ContentInfo)
  of each current ArchiveTimeStamp is hashed and a new tree over those hashes is timestamped once; every
  document's chain gets the new ArchiveTimeStamp appended (same ArchiveTimeStampChain: same algorithm). All
  documents stamped by one tree share one leaf, so renewing 100,000 documents from a few trees is one
  request over a few leaves.
- Verification (§5.3): the document's hash must be in the first list of the first ArchiveTimeStamp; each
  list is folded up to a root equal to the timestamp's imprint; each later ArchiveTimeStamp covers the hash
  of the previous one's timeStamp; each timestamp token is a valid RFC 3161 token of a trusted TSA, and
  each was renewed before the previous TSA certificate expired.

Not implemented: hash-tree renewal (§5.3 of the renewal part: a new chain when SHA-256 itself weakens) and
the optional cryptoInfos / encryptionInfo fields (parsed as opaque values, never written); the XML syntax of
RFC 6283 (the same structures in XML) — the archive writes the ASN.1 form, which EU DSS also validates.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, cms, core, tsp

from pades import identity

DIGEST = "sha256"


# ---- ASN.1 (RFC 4998 §3 and Appendix A; the module has IMPLICIT TAGS) -------------------------------------

class PartialHashtree(core.SequenceOf):
    _child_spec = core.OctetString


class ReducedHashtree(core.SequenceOf):
    _child_spec = PartialHashtree


class ArchiveTimeStamp(core.Sequence):
    _fields = [
        ("digest_algorithm", algos.DigestAlgorithm, {"implicit": 0, "optional": True}),
        ("attributes", cms.CMSAttributes, {"implicit": 1, "optional": True}),
        ("reduced_hashtree", ReducedHashtree, {"implicit": 2, "optional": True}),
        ("time_stamp", cms.ContentInfo),
    ]


class ArchiveTimeStampChain(core.SequenceOf):
    _child_spec = ArchiveTimeStamp


class ArchiveTimeStampSequence(core.SequenceOf):
    _child_spec = ArchiveTimeStampChain


class DigestAlgorithmSequence(core.SequenceOf):
    _child_spec = algos.DigestAlgorithm


class CryptoInfos(core.SequenceOf):
    _child_spec = cms.CMSAttribute


class EncryptionInfo(core.Sequence):
    _fields = [("encryption_info_type", core.ObjectIdentifier), ("encryption_info_value", core.Any)]


class EvidenceRecord(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("digest_algorithms", DigestAlgorithmSequence),
        ("crypto_infos", CryptoInfos, {"implicit": 0, "optional": True}),
        ("encryption_info", EncryptionInfo, {"implicit": 1, "optional": True}),
        ("archive_time_stamp_sequence", ArchiveTimeStampSequence),
    ]


# ---- hash trees ---------------------------------------------------------------------------------------------

def digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _node(hashes: Iterable[bytes]) -> bytes:
    """§4.2 step 4: sorted in binary ascending order, concatenated, hashed."""
    return digest(b"".join(sorted(hashes)))


@dataclass(frozen=True)
class HashTree:
    leaves: tuple[bytes, ...]                     # sorted, distinct
    levels: tuple[tuple[bytes, ...], ...]         # levels[0] = leaves, levels[-1] = (root,)

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def reduced(self, leaf: bytes) -> list[list[bytes]]:
        """The reduced hash tree of one leaf (§4.2): its group, then the sibling at each level above.
        Levels where the node has no sibling add no list."""
        index = _find(self.leaves, leaf)
        lists: list[list[bytes]] = []
        value = leaf
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                lists.append([value, level[sibling]] if not lists else [level[sibling]])
                value = _node((value, level[sibling]))
            index //= 2
        return lists


def _find(leaves: Sequence[bytes], leaf: bytes) -> int:
    import bisect
    i = bisect.bisect_left(leaves, leaf)
    if i == len(leaves) or leaves[i] != leaf:
        raise KeyError("not a leaf of this tree")
    return i


def build_tree(hashes: Iterable[bytes]) -> HashTree:
    leaves = tuple(sorted(set(hashes)))
    if not leaves:
        raise ValueError("an empty hash tree")
    levels = [leaves]
    while len(levels[-1]) > 1:
        level = levels[-1]
        levels.append(tuple(_node(level[i:i + 2]) if i + 1 < len(level) else level[i]
                            for i in range(0, len(level), 2)))
    return HashTree(leaves, tuple(levels))


def fold(leaf: bytes, lists: Sequence[Sequence[bytes]]) -> bytes | None:
    """§5.3 steps 2-3: the root a reduced hash tree gives for `leaf`, or None if the leaf is not in it."""
    if not lists:
        return leaf
    if leaf not in lists[0]:
        return None
    value = _node(lists[0])
    for siblings in lists[1:]:
        value = _node([value, *siblings])
    return value


# ---- records --------------------------------------------------------------------------------------------------

def archive_time_stamp(token: cms.ContentInfo, path: ReducedHashtree | list[list[bytes]]) -> ArchiveTimeStamp:
    """An ArchiveTimeStamp (§4.1) over a tree's root: its token and the document's path in that tree (none for a
    tree of one)."""
    fields: dict = {"digest_algorithm": {"algorithm": DIGEST}, "time_stamp": token}
    if len(path):
        fields["reduced_hashtree"] = path
    return ArchiveTimeStamp(fields)


def record_of(chain: Sequence[ArchiveTimeStamp]) -> EvidenceRecord:
    """An evidence record of one ArchiveTimeStampChain: the first stamp over the document, each next one
    renewing the previous (§5.2)."""
    return EvidenceRecord({"version": 1, "digest_algorithms": [{"algorithm": DIGEST}],
                           "archive_time_stamp_sequence": [list(chain)]})


def renewal_leaf(ats: ArchiveTimeStamp) -> bytes:
    """What the next ArchiveTimeStamp covers: the hash of this one's timeStamp field (§5.2)."""
    return digest(ats["time_stamp"].dump())


def tst_info(token: cms.ContentInfo) -> tsp.TSTInfo:
    return token["content"]["encap_content_info"]["content"].parsed


def imprint(token: cms.ContentInfo) -> bytes:
    return tst_info(token)["message_imprint"]["hashed_message"].native


def gen_time(token: cms.ContentInfo) -> datetime:
    return tst_info(token)["gen_time"].native


def tsa_certificate(token: cms.ContentInfo):
    """The certificate that signed the token (by its signer identifier), or None."""
    return identity.signer_certificate(token["content"])


# ---- verification (§5.3) -------------------------------------------------------------------------------------

@dataclass
class Step:
    """One ArchiveTimeStamp of the chain, as verified."""
    at: datetime
    covers: str                                   # "документ" or "предыдущий штамп"
    ok: bool
    message: str


@dataclass
class Verification:
    ok: bool
    steps: list[Step]
    problem: str | None = None

    def lines_ru(self) -> list[str]:
        out = [f"Доказательство сохранности (RFC 4998): {'действительно' if self.ok else 'НЕ действительно'}"
               + (f" — {self.problem}" if self.problem else "")]
        for n, s in enumerate(self.steps, 1):
            out.append(f"  штамп {n} ({s.covers}), {s.at:%d.%m.%Y %H:%M} UTC: {'да' if s.ok else 'НЕТ'} — {s.message}")
        return out


def verify(data_hash: bytes, record: EvidenceRecord, check_token) -> Verification:
    """`check_token(token, moment)` says whether a timestamp token is a valid, trusted TSA token as of
    `moment` (None: now): returns None if it is, else the reason (Russian)."""
    steps: list[Step] = []
    try:
        chains = list(record["archive_time_stamp_sequence"])
        if record["version"].native != 1 or not chains or not all(len(c) for c in chains):
            return Verification(False, steps, "запись имеет неизвестную версию или пуста")
        if len(chains) != 1:
            return Verification(False, steps, "обновление хеш-дерева (несколько цепочек) не поддерживается")
        chain = list(chains[0])
        leaf = data_hash
        for i, ats in enumerate(chain):
            algo = ats["digest_algorithm"].native["algorithm"] if ats["digest_algorithm"].native else DIGEST
            token = ats["time_stamp"]
            at = gen_time(token)
            covers = "документ" if i == 0 else "предыдущий штамп"
            if algo != DIGEST:
                return _fail(steps, at, covers, f"алгоритм хеширования {algo} не поддерживается")
            lists = [[h.native for h in part] for part in ats["reduced_hashtree"]] \
                if ats["reduced_hashtree"].native is not None else []
            root = fold(leaf, lists)
            if root is None or (not lists and root != imprint(token)):      # a tree of one: the leaf is the root
                return _fail(steps, at, covers, "хеш не найден в дереве: " +
                             ("документ не тот, что заверен" if i == 0 else "цепочка штампов нарушена"))
            if root != imprint(token):
                return _fail(steps, at, covers, "корень дерева не совпадает со штампом времени")
            moment = gen_time(chain[i + 1]["time_stamp"]) if i + 1 < len(chain) else None
            problem = check_token(token, moment)
            if problem:
                return _fail(steps, at, covers, problem)
            steps.append(Step(at, covers, True, "хеш в дереве, штамп действителен"
                              + (" на момент следующего" if moment else "")))
            leaf = renewal_leaf(ats)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        return Verification(False, steps, f"запись не разбирается ({type(e).__name__})")
    return Verification(True, steps)


def _fail(steps: list[Step], at: datetime, covers: str, message: str) -> Verification:
    steps.append(Step(at, covers, False, message))
    return Verification(False, steps, message)


def load(data: bytes) -> EvidenceRecord:
    record = EvidenceRecord.load(data)
    record.native  # noqa: B018  # parse it all now: a malformed record fails here, not half-way
    return record
