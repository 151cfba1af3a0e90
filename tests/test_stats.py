"""One robust location and scale: IQR / 1.349 (scikit-learn's RobustScaler(unit_variance=True))."""

import numpy as np
import torch
from sklearn.preprocessing import RobustScaler

from aekit.core.stats import MAD_TO_SIGMA, robust_location_scale
from aekit.nn.layers import Scaler


def test_matches_scikit_learn_robust_scaler_with_unit_variance():
    rng = np.random.default_rng(0)
    X = rng.standard_t(3, size=(2_001, 5)) * [1, 10, 0.1, 3, 100] + [0, 5, -1, 2, 7]
    ref = RobustScaler(unit_variance=True).fit(X)
    loc, scale = robust_location_scale(torch.as_tensor(X))
    np.testing.assert_allclose(loc.numpy(), ref.center_, rtol=1e-12)
    np.testing.assert_allclose(scale.numpy(), ref.scale_, rtol=1e-9)


def test_estimates_the_standard_deviation_of_normal_data():
    X = torch.as_tensor(np.random.default_rng(1).normal(3.0, 2.0, size=(200_000, 1)))
    loc, scale = robust_location_scale(X)
    assert abs(float(loc) - 3.0) < 0.02 and abs(float(scale) - 2.0) < 0.02


def test_fallbacks_mostly_one_value_constant_and_non_finite():
    mostly = np.zeros(100)
    mostly[:10] = np.arange(1, 11)  # IQR 0: the median non-zero deviation (5.5) * 1.4826
    X = torch.as_tensor(np.stack([mostly, np.full(100, 7.0), np.r_[np.nan, np.inf,
                                                                   np.arange(98.0)]], 1))
    loc, scale = robust_location_scale(X)
    np.testing.assert_allclose(scale[0], 5.5 * MAD_TO_SIGMA)
    assert abs(MAD_TO_SIGMA - 1.4826) < 1e-4
    assert float(loc[1]) == 7.0 and float(scale[1]) == 1.0
    ref = RobustScaler(unit_variance=True).fit(np.arange(98.0)[:, None])
    np.testing.assert_allclose(scale[2], ref.scale_[0], rtol=1e-9)
    assert torch.isfinite(loc).all() and (scale > 0).all()


def test_along_another_axis():
    X = torch.as_tensor(np.random.default_rng(2).normal(size=(4, 301)))
    loc, scale = robust_location_scale(X, dim=-1)
    ref = RobustScaler(unit_variance=True).fit(X.numpy().T)
    np.testing.assert_allclose(scale.numpy(), ref.scale_, rtol=1e-9)
    assert loc.shape == (4,)


def test_the_robust_scaler_uses_it():
    X = torch.as_tensor(np.random.default_rng(3).lognormal(size=(500, 3)))
    s = Scaler(3, "robust").fit(X)
    ref = RobustScaler(unit_variance=True).fit(X.numpy())
    np.testing.assert_allclose(s(X).numpy(), ref.transform(X.numpy()), rtol=1e-5, atol=1e-6)
