"""Why a model errs and what it looks at: error analysis and attributions (Captum).

Kept light: ``nnforge.explain.errors`` (per-class scores, confusions, top losses),
``nnforge.explain.attribution`` (Grad-CAM, IG, gradient SHAP, LIME), ``nnforge.explain.report``.
"""

METHODS = ("gradcam", "ig", "shap", "lime")
