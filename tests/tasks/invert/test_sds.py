"""SDSLoss with a tiny randomly initialised diffusers model written by ``write_tiny_model`` and read back through
``load_sds_model``: the gradient is w(t) (eps_hat - eps) exactly (against a per-image loop over the UNet), guidance
combines the two predictions, autograd carries the gradient through the VAE to the image, a few descent steps move
the target along -grad, and bad model folders fail in one line. Skipped without diffusers / transformers."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from conftest import DEVICES  # noqa: E402

from inverse3d.tasks.invert.sds import SDSLoss, SDSModel, load_sds_model, sds_weights  # noqa: E402
from inverse3d.tasks.invert.sds_tiny import write_tiny_model  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """The tiny UNet's convolutions are faster on one thread than split over busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("sds") / "tiny", image_size=16)


@pytest.fixture(scope="module")
def model(model_dir):
    return load_sds_model(model_dir, "cpu")


def _reference_gradient(m: SDSModel, latents, cond, uncond, t, noise, scale, weighting="sds"):
    """w(t) (eps_hat - eps) image by image: two UNet calls each, guidance written out."""
    out = []
    for b in range(latents.shape[0]):
        abar = float(m.alphas_cumprod[t[b]])
        noisy = abar ** 0.5 * latents[b:b + 1] + (1 - abar) ** 0.5 * noise[b:b + 1]
        with torch.no_grad():
            eps_c = m.unet(noisy, t[b:b + 1], encoder_hidden_states=cond).sample
            eps_u = m.unet(noisy, t[b:b + 1], encoder_hidden_states=uncond).sample
        w = {"sds": 1 - abar, "uniform": 1.0, "fantasia3d": abar ** 0.5 * (1 - abar)}[weighting]
        out.append(w * (eps_u + scale * (eps_c - eps_u) - noise[b:b + 1]))
    return torch.cat(out)


def test_loader_reads_the_folder(model, model_dir):
    assert model.latent_space and model.image_size == 16 and model.scaling_factor == pytest.approx(0.18215)
    assert model.num_train_timesteps == 1000 and model.prediction_type == "epsilon"
    assert not any(p.requires_grad for p in model.unet.parameters())
    # the scheduler's betas are Stable Diffusion's: abar decreases from ~1 to ~0.005
    assert 0.99 < float(model.alphas_cumprod[0]) <= 1 and float(model.alphas_cumprod[-1]) < 0.01
    emb = SDSLoss(model).embed_prompt("a red apple", "blurry")
    assert emb.cond.shape == emb.uncond.shape == (1, 16, 16)
    assert not torch.equal(emb.cond, emb.uncond)


@pytest.mark.parametrize("weighting", ["sds", "uniform", "fantasia3d"])
def test_gradient_is_exactly_w_times_eps_hat_minus_eps(model, weighting):
    loss = SDSLoss(model, guidance_scale=7.5, weighting=weighting)
    emb = loss.embed_prompt("a red apple", "")
    latents = torch.randn(3, 4, 8, 8, requires_grad=True)
    t = torch.tensor([20, 500, 970])
    noise = torch.randn(3, 4, 8, 8)
    out = loss.latent_loss(latents, emb, t=t, noise=noise)
    expected = _reference_gradient(model, latents.detach(), emb.cond, emb.uncond, t, noise, 7.5, weighting)
    torch.testing.assert_close(out.grad, expected, rtol=1e-4, atol=1e-5)
    (g,) = torch.autograd.grad(out.loss, latents)
    assert torch.equal(g, out.grad)  # the surrogate carries exactly grad, no more
    assert out.loss.item() == pytest.approx(0.5 * out.grad.square().sum().item() / 3, rel=1e-5)


def test_guidance_combines_the_two_predictions(model):
    emb = SDSLoss(model).embed_prompt("a red apple", "")
    latents, noise, t = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8), torch.tensor([300, 700])
    g = {s: SDSLoss(model, guidance_scale=s).gradient(latents, emb, t, noise) for s in (0.0, 1.0, 4.0)}
    # the gradient is affine in the scale: g(s) = (1 - s) g(0) + s g(1), with g(1) the prompt's prediction alone
    torch.testing.assert_close(g[4.0], -3.0 * g[0.0] + 4.0 * g[1.0], rtol=1e-4, atol=1e-5)
    ref1 = _reference_gradient(model, latents, emb.cond, emb.uncond, t, noise, 1.0)
    ref0 = _reference_gradient(model, latents, emb.cond, emb.uncond, t, noise, 0.0)
    torch.testing.assert_close(g[1.0], ref1, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(g[0.0], ref0, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(g[0.0], g[1.0])  # the prompt matters


def test_timesteps_stay_in_range(model):
    loss = SDSLoss(model, min_step_frac=0.2, max_step_frac=0.3)
    t = loss.sample_timesteps(2000)
    assert t.min() >= 200 and t.max() <= 300 and t.min() < 210 and t.max() > 290
    assert torch.equal(SDSLoss(model, min_step_frac=0.5, max_step_frac=0.5).sample_timesteps(5), torch.full((5,), 500))
    with pytest.raises(ValueError, match="min_step_frac"):
        SDSLoss(model, min_step_frac=0.6, max_step_frac=0.5)
    with pytest.raises(ValueError, match="weighting"):
        SDSLoss(model, weighting="snr")
    w = sds_weights(model.alphas_cumprod, torch.tensor([0, 999]), "sds")
    assert w[0] < 0.01 and w[1] > 0.99


def test_image_gradient_goes_through_the_vae(model):
    """d loss / d image = J_encoder^T grad for the same posterior draw, and a few steps of gradient descent on the
    image move it along -grad."""
    loss = SDSLoss(model, guidance_scale=10.0)
    emb = loss.embed_prompt("a red apple")
    image = torch.rand(1, 3, 12, 12, requires_grad=True)  # resized to the model's 16 x 16 inside
    t, noise = torch.tensor([400]), torch.randn(1, 4, 8, 8)
    out = loss(image, emb, t=t, noise=noise, generator=torch.Generator().manual_seed(1))
    out.loss.backward()
    latents = loss.encode_images(image, generator=torch.Generator().manual_seed(1))
    (expected,) = torch.autograd.grad(latents, image, grad_outputs=out.grad)
    torch.testing.assert_close(image.grad, expected, rtol=1e-5, atol=1e-7)
    assert image.grad.abs().sum() > 0

    x = image.detach().clone().requires_grad_(True)
    opt = torch.optim.SGD([x], lr=1e-3)
    for _ in range(3):
        before = x.detach().clone()
        out = loss(x, emb, t=t, noise=noise, generator=torch.Generator().manual_seed(1))
        opt.zero_grad()
        out.loss.backward()
        step_grad = x.grad.detach().clone()
        opt.step()
        torch.testing.assert_close(x.detach() - before, -1e-3 * step_grad)
        assert float(((x.detach() - before) * step_grad).sum()) < 0


@pytest.mark.parametrize("device", DEVICES)
def test_latent_descent_follows_minus_grad(model_dir, device):
    m = load_sds_model(model_dir, device, torch.float32)
    loss = SDSLoss(m, guidance_scale=5.0)
    emb = loss.embed_prompt("a red apple")
    x = torch.randn(2, 4, 8, 8, device=device, requires_grad=True)
    x0 = x.detach().clone()
    opt = torch.optim.SGD([x], lr=0.05)
    total = torch.zeros_like(x0)
    for step in range(3):
        g = torch.Generator(device=device).manual_seed(step)
        out = loss.latent_loss(x, emb, generator=g)
        assert out.t.min() >= loss.min_step and out.t.max() <= loss.max_step
        opt.zero_grad()
        out.loss.backward()
        total += out.grad
        opt.step()
    torch.testing.assert_close(x.detach(), x0 - 0.05 * total, rtol=1e-5, atol=1e-6)


def test_prediction_types_become_noise(model):
    """A v- or x0-predicting UNet's output is turned into the noise it implies."""
    x0, eps = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    t = torch.tensor([600])
    abar = model.alphas_cumprod[600]
    noisy = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
    v = abar.sqrt() * eps - (1 - abar).sqrt() * x0
    for kind, out in (("v_prediction", v), ("sample", x0), ("epsilon", eps)):
        m = SDSModel(**{**model.__dict__, "prediction_type": kind})
        torch.testing.assert_close(SDSLoss(m)._to_epsilon(out, noisy, t), eps, rtol=1e-4, atol=1e-5)


def test_pixel_space_model(tmp_path):
    m = load_sds_model(write_tiny_model(tmp_path / "pixel", latent=False, image_size=8), "cpu")
    assert not m.latent_space and m.image_size == 8
    loss = SDSLoss(m, guidance_scale=3.0)
    image = torch.rand(2, 3, 8, 8, requires_grad=True)
    torch.testing.assert_close(loss.encode_images(image), image * 2 - 1)
    out = loss(image, loss.embed_prompt("a red apple"), t=torch.tensor([100, 800]))
    out.loss.backward()
    torch.testing.assert_close(image.grad, 2 * out.grad)  # d(2x - 1)/dx = 2


def test_bad_inputs(model):
    loss = SDSLoss(model)
    emb = loss.embed_prompt("a red apple")
    with pytest.raises(ValueError, match="NaN"):
        loss(torch.full((1, 3, 8, 8), float("nan")), emb)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        loss(torch.rand(1, 4, 8, 8), emb)
    with pytest.raises(ValueError, match="prompt embeddings for 2"):
        loss.latent_loss(torch.randn(3, 4, 8, 8), type(emb)(emb.cond.expand(2, -1, -1), emb.uncond.expand(2, -1, -1)))


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def test_missing_and_incomplete_folders(tmp_path, model_dir):
    with pytest.raises(ValueError, match="no such folder") as err:
        load_sds_model(tmp_path / "nowhere")
    assert "--model-dir" in _one_line(err) and "nothing is downloaded" in str(err.value)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        load_sds_model(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="missing unet/config.json, scheduler/scheduler_config.json") as err:
        load_sds_model(tmp_path / "empty")
    _one_line(err)

    import shutil

    broken = shutil.copytree(model_dir, tmp_path / "broken")
    weights = next((broken / "unet").glob("*.safetensors"))
    weights.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="cannot load unet/") as err:
        load_sds_model(broken)
    _one_line(err)
    weights.unlink()
    with pytest.raises(ValueError, match="unet/ has no weights"):
        load_sds_model(broken)
    shutil.rmtree(broken / "tokenizer")
    shutil.copytree(model_dir / "unet", broken / "unet", dirs_exist_ok=True)
    with pytest.raises(ValueError, match="text_encoder/ without tokenizer/"):
        load_sds_model(broken)


def test_text_free_folder_needs_embeddings(tmp_path):
    from inverse3d.tasks.invert.sds import PromptEmbeddings

    m = load_sds_model(write_tiny_model(tmp_path / "notext", text=False, image_size=8), "cpu")
    loss = SDSLoss(m, guidance_scale=2.0)
    with pytest.raises(ValueError, match="no text_encoder"):
        loss.embed_prompt("a red apple")
    emb = PromptEmbeddings(torch.randn(1, 5, 16), torch.zeros(1, 5, 16))  # precomputed embeddings
    out = loss.latent_loss(torch.randn(1, 4, 4, 4), emb, t=torch.tensor([500]))
    assert out.grad.shape == (1, 4, 4, 4) and torch.isfinite(out.grad).all()
