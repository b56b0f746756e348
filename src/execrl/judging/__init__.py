"""Judging: the one place that turns a problem, a program and a choice of tests into executor
requests (:mod:`execrl.judging.requests`) and, for translation, into verdicts against the source
program's behaviour (:mod:`execrl.judging.equivalence`). Dataset and language conventions that
decide *what to run* live here; the sandbox (:mod:`execrl.execution`) only runs what it is given."""
