"""The leaves every other package stands on: the version, input checks and devices, atomic
files and model containers (``storage``), process groups (``distributed``), the parameters a
model was fitted with (``fitted``) and the one home of calls into private or
platform-specific APIs (``compat``). Nothing here knows an estimator class: ``fitted`` and
``storage`` speak scikit-learn's parameter protocol (``get_params``) only."""
