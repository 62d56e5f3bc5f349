"""The error taxonomy of Ronchi & Perona (ICCV 2017) that PoseFix
synthesizes and the error diagnosis reports: a predicted joint is *good*,
*jitter*, *inversion*, *swap* or *miss* by its keypoint similarity to the
ground truth (:mod:`.keypoint_similarity`)."""

#: error types, in the order of their integer codes (-1: no ground truth)
ERROR_TYPES = ('good', 'jitter', 'inversion', 'swap', 'miss')
GOOD, JITTER, INVERSION, SWAP, MISS = range(len(ERROR_TYPES))
NO_GT = -1

#: KS thresholds of the taxonomy: good >= 0.85 > jitter >= 0.5
KS_GOOD = 0.85
KS_JITTER = 0.5

#: a prediction below this OKS to every person matches none (Ronchi &
#: Perona's analysis; also how training pairs a real estimator's poses)
MIN_MATCH_OKS = 0.1
