"""alsim: an open platform for amyotrophic lateral sclerosis (ALS) research and education.

alsim turns what is known about why ALS has no cure into software: a clinical toolkit that
scores real patients with the published instruments, and (in later releases) calibrated virtual
patients and in-silico trials that are scored with the very same functions.

alsim is a research and education tool. It is **not medical advice**.

The top-level import is kept cheap: it pulls in no plotting library.
"""

from alsim.errors import AlsimError, InputError

__version__ = "0.1.0"

DISCLAIMER = (
    "alsim is a research and education tool, not medical advice. Discuss any decision about "
    "diagnosis, prognosis or treatment with the clinical team."
)

__all__ = ["DISCLAIMER", "AlsimError", "InputError", "__version__"]
