"""pyHanko's difference analysis, done once per verification of a file.

Checking what changed after a signature (`DiffPolicy.review_file`: the revisions after it may add signatures,
validation data and timestamps, nothing else) is the costliest part of verifying a signed sheet: it reads
every object of every later revision. A verification runs it once as of now (`pades.validate`), again for the
long-term (B-LTA) check and for the archive timestamps — the same reader, the same signed revision, the same
verdict. `ReviewedOnce` keeps the verdicts of one reader; made per verification, it goes with it. Anything
else (a new reader, another revision, other MDP values) is reviewed by pyHanko's own policy.
"""
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, DiffPolicy, DiffResult, SuspiciousModification


class ReviewedOnce(DiffPolicy):
    def __init__(self, policy: DiffPolicy = DEFAULT_DIFF_POLICY):
        self.policy = policy
        self._verdicts: dict[tuple, tuple[PdfFileReader, DiffResult | SuspiciousModification]] = {}

    def apply(self, old, new, field_mdp_spec=None, doc_mdp=None) -> DiffResult:
        return self.policy.apply(old, new, field_mdp_spec, doc_mdp)

    def review_file(self, reader, base_revision, field_mdp_spec=None, doc_mdp=None):
        if not isinstance(base_revision, int):        # a resolver: not a key to remember by
            return self.policy.review_file(reader, base_revision, field_mdp_spec, doc_mdp)
        key = (id(reader), base_revision, repr(field_mdp_spec), doc_mdp)
        kept = self._verdicts.get(key)
        if kept is not None and kept[0] is reader:    # the reader itself is kept, so its id is not reused
            return kept[1]
        verdict = self.policy.review_file(reader, base_revision, field_mdp_spec, doc_mdp)
        self._verdicts[key] = (reader, verdict)
        return verdict
