"""scikit-learn's NuSVR (libsvm, the paper's nu-SVR baseline) on data written by
peephole-eval's `nusvr_sklearn` test, so that our own nu-SVR can be held to it.

Reads a JSON job: standardized training rows and targets, the rows to predict, and a list of
(C, nu, gamma) settings; writes, per setting, the predictions (in the targets' units) and the
number of support vectors.
"""

import argparse
import json

import numpy as np
import sklearn
from sklearn.svm import NuSVR


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("job")
    parser.add_argument("out")
    args = parser.parse_args()
    with open(args.job) as f:
        job = json.load(f)
    x = np.asarray(job["train_x"], dtype=np.float64)
    y = np.asarray(job["train_y"], dtype=np.float64)
    test = np.asarray(job["test_x"], dtype=np.float64)
    results = []
    for setting in job["settings"]:
        model = NuSVR(
            C=setting["c"],
            nu=setting["nu"],
            gamma=setting["gamma"],
            kernel="rbf",
            tol=job["tolerance"],
            shrinking=True,
            cache_size=200,
        )
        model.fit(x, y)
        results.append(
            {
                "predictions": model.predict(test).tolist(),
                "support_vectors": int(model.support_.shape[0]),
            }
        )
    with open(args.out, "w") as f:
        json.dump({"sklearn": sklearn.__version__, "results": results}, f)


if __name__ == "__main__":
    main()
