"""Visual inspection: PatchCore anomaly detection on weld-seam and paint images.

``patchcore`` builds the model with torch and exports it to ONNX; ``runtime`` scores
with onnxruntime on CPU; ``mvtec`` reads an MVTec AD style folder. All need the
``vision`` extra (``pip install 'gigaloop[vision]'``); importing this package needs none.
"""
