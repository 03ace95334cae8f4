"""Score distillation sampling (DreamFusion, Poole et al. 2022): a frozen text-to-image diffusion model as a loss.

For an image ``x`` (a render, or a latent of it), a timestep ``t`` and noise ``eps``, the noisy input is
``x_t = sqrt(abar_t) x + sqrt(1 - abar_t) eps`` (``abar`` the scheduler's ``alphas_cumprod``), the UNet predicts
the noise with and without the prompt, classifier-free guidance combines them,
``eps_hat = eps_uncond + s (eps_cond - eps_uncond)``, and the score-distillation gradient is

    grad = w(t) (eps_hat - eps)                                  (no backpropagation through the UNet)

``SDSLoss`` returns a surrogate loss whose gradient with respect to ``x`` is exactly ``grad``, so autograd carries it
on to whatever produced ``x`` (an image, a mesh's vertex colours through the rasteriser, a NeRF through the volume
renderer, the VAE encoder in latent space).

Everything rests on the ``diffusers`` interfaces (``UNet2DConditionModel``, a scheduler's ``alphas_cumprod``,
``AutoencoderKL``) and on ``transformers``' CLIP text encoder and tokenizer: the optional ``sds`` extra
(``pip install -e .[sds]``). ``load_sds_model`` reads a local diffusers model folder (e.g. Stable Diffusion 2.1 base);
nothing is ever downloaded. Importing this module needs neither package.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F

__all__ = ["SDSModel", "PromptEmbeddings", "SDSOutput", "SDSLoss", "load_sds_model", "sds_weights",
           "WEIGHTINGS", "MISSING_EXTRA"]

MISSING_EXTRA = ("score distillation needs the optional 'sds' extra (diffusers and transformers): "
                 "pip install -e .[sds]")

WEIGHTINGS = ("sds", "uniform", "fantasia3d")
"""w(t): "sds" = 1 - abar_t (DreamFusion's sigma_t^2), "uniform" = 1, "fantasia3d" = sqrt(abar_t) (1 - abar_t)."""

_WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass
class SDSModel:
    """A frozen text-to-image diffusion model, as score distillation uses it.

    ``unet``: a ``UNet2DConditionModel`` (text conditioning through cross-attention); ``alphas_cumprod``: (T,) float32
    on ``device``, the scheduler's; ``prediction_type``: what the UNet predicts ("epsilon", "v_prediction" or
    "sample"); ``vae``: an ``AutoencoderKL`` for a latent UNet, None for a pixel UNet; ``scaling_factor``: the VAE's
    latent scale (0.18215 for Stable Diffusion); ``text_encoder`` + ``tokenizer``: CLIP, or None when the prompts are
    given as embeddings; ``image_size``: the pixel size the model was trained at (images are resized to it).
    """

    unet: Any
    alphas_cumprod: torch.Tensor
    prediction_type: str = "epsilon"
    vae: Any = None
    scaling_factor: float = 1.0
    text_encoder: Any = None
    tokenizer: Any = None
    image_size: int = 64
    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float32
    source: str = ""

    @property
    def latent_space(self) -> bool:
        return self.vae is not None

    @property
    def num_train_timesteps(self) -> int:
        return int(self.alphas_cumprod.shape[0])

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """(C, h, w) of what the UNet takes for one image (latents, or RGB pixels for a pixel UNet)."""
        size = self.unet.config.sample_size
        size = int(size[0] if isinstance(size, (list, tuple)) else size)
        return int(self.unet.config.in_channels), size, size

    @classmethod
    def from_modules(cls, unet, scheduler, vae=None, text_encoder=None, tokenizer=None, device=None,
                     dtype: torch.dtype | None = None, source: str = "") -> "SDSModel":
        """Bundles diffusers / transformers modules (frozen and in eval mode here) into an ``SDSModel``."""
        device = torch.device(device) if device is not None else next(unet.parameters()).device
        dtype = dtype if dtype is not None else next(unet.parameters()).dtype
        modules = [m for m in (unet, vae, text_encoder) if m is not None]
        for m in modules:
            m.to(device=device).eval().requires_grad_(False)
            if next(m.parameters()).dtype != dtype:
                m.to(dtype=dtype)
        channels = int(unet.config.in_channels)
        if vae is None and channels != 3:
            raise ValueError(f"{source or 'model'}: the UNet takes {channels} channels but there is no VAE "
                             "(a pixel-space UNet takes 3)")
        if vae is not None and channels != int(vae.config.latent_channels):
            raise ValueError(f"{source or 'model'}: the UNet takes {channels} channels, the VAE makes "
                             f"{vae.config.latent_channels}")
        unet_size = cls(unet=unet, alphas_cumprod=torch.ones(1)).latent_shape[1]
        if vae is not None:
            factor = 2 ** (len(vae.config.block_out_channels) - 1)
            image_size = unet_size * factor
            scaling = float(getattr(vae.config, "scaling_factor", 0.18215))
        else:
            image_size, scaling = unet_size, 1.0
        abar = torch.as_tensor(scheduler.alphas_cumprod, dtype=torch.float32).to(device)
        prediction = str(getattr(scheduler.config, "prediction_type", "epsilon"))
        if prediction not in ("epsilon", "v_prediction", "sample"):
            raise ValueError(f"{source or 'model'}: unknown scheduler prediction_type {prediction!r}")
        return cls(unet=unet, alphas_cumprod=abar, prediction_type=prediction, vae=vae, scaling_factor=scaling,
                   text_encoder=text_encoder, tokenizer=tokenizer, image_size=image_size, device=device,
                   dtype=dtype, source=source)


def _has_weights(folder: Path) -> bool:
    return any(p.name.endswith(_WEIGHT_SUFFIXES) for p in folder.iterdir()) if folder.is_dir() else False


def _check_model_dir(model_dir: Path) -> tuple[bool, bool]:
    """Checks the folder's layout before importing anything heavy; returns (has VAE, has text encoder)."""
    where = f"--model-dir {model_dir}"
    hint = ("a local diffusers model folder (e.g. Stable Diffusion 2.1 base: model_index.json, unet/, vae/, "
            "text_encoder/, tokenizer/, scheduler/); nothing is downloaded")
    if not model_dir.exists():
        raise ValueError(f"{where}: no such folder; give {hint}")
    if not model_dir.is_dir():
        raise ValueError(f"{where}: is a file, not a folder; give {hint}")
    missing = [p for p in ("unet/config.json", "scheduler/scheduler_config.json") if not (model_dir / p).is_file()]
    if missing:
        raise ValueError(f"{where}: incomplete, missing {', '.join(missing)}; give {hint}")
    if not _has_weights(model_dir / "unet"):
        raise ValueError(f"{where}: unet/ has no weights (*.safetensors or *.bin); give {hint}")
    has_vae = (model_dir / "vae").is_dir()
    if has_vae and not ((model_dir / "vae/config.json").is_file() and _has_weights(model_dir / "vae")):
        raise ValueError(f"{where}: vae/ lacks config.json or its weights")
    has_text = (model_dir / "text_encoder").is_dir() or (model_dir / "tokenizer").is_dir()
    if has_text:
        if not ((model_dir / "text_encoder/config.json").is_file() and _has_weights(model_dir / "text_encoder")):
            raise ValueError(f"{where}: text_encoder/ lacks config.json or its weights")
        if not (model_dir / "tokenizer").is_dir():
            raise ValueError(f"{where}: text_encoder/ without tokenizer/")
    return has_vae, has_text


@contextlib.contextmanager
def _quiet_loading():
    """diffusers' and transformers' loading chatter (progress bars, advice to install accelerate) off, errors on."""
    import diffusers.utils.logging as dlog

    try:
        import transformers.utils.logging as tlog
    except ImportError:  # a text-free folder needs no transformers
        tlog = None
    saved = [(lib, lib.get_verbosity()) for lib in (dlog, tlog) if lib is not None]
    for lib, _ in saved:
        lib.set_verbosity_error()
        lib.disable_progress_bar()
    try:
        yield
    finally:
        for lib, level in saved:
            lib.set_verbosity(level)
            lib.enable_progress_bar()


def load_sds_model(model_dir: str | os.PathLike, device: str | torch.device = "cpu",
                   dtype: torch.dtype | None = None) -> SDSModel:
    """Loads a local diffusers model folder for score distillation (offline: never downloads).

    Reads ``unet/`` (``UNet2DConditionModel``), ``scheduler/`` (its ``alphas_cumprod`` and ``prediction_type``),
    ``vae/`` (``AutoencoderKL``) when present (latent space; without it the UNet must work on RGB pixels), and
    ``text_encoder/`` + ``tokenizer/`` (CLIP) when present (otherwise prompts must be given as embeddings).

    Args:
        model_dir: the folder, e.g. a Stable Diffusion 2.1 base snapshot.
        device: where the frozen modules go.
        dtype: their dtype (None: float16 on CUDA, else float32).
    Raises:
        ValueError, one line naming the folder: missing or incomplete folder, unreadable part, or diffusers /
        transformers not installed.
    """
    path = Path(os.fsdecode(os.fspath(model_dir))).expanduser()
    device = torch.device(device)
    has_vae, has_text = _check_model_dir(path)
    if dtype is None:
        dtype = torch.float16 if device.type == "cuda" else torch.float32
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("DIFFUSERS_OFFLINE", "1")
    try:
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        if has_text:
            from transformers import CLIPTextModel, CLIPTokenizer
    except ImportError as err:
        raise ValueError(f"{MISSING_EXTRA} ({err})") from None

    def part(name: str, load):
        try:
            return load()
        except Exception as err:  # noqa: BLE001 - any failure of a reader is a bad folder, named in one line
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ValueError(f"--model-dir {path}: cannot load {name}/: {first}") from None

    kw = {"local_files_only": True}
    with _quiet_loading():
        unet = part("unet", lambda: UNet2DConditionModel.from_pretrained(path, subfolder="unet", torch_dtype=dtype,
                                                                          **kw))
        scheduler = part("scheduler", lambda: DDPMScheduler.from_pretrained(path, subfolder="scheduler", **kw))
        vae = part("vae", lambda: AutoencoderKL.from_pretrained(path, subfolder="vae", torch_dtype=dtype, **kw)) \
            if has_vae else None
        text_encoder = tokenizer = None
        if has_text:
            text_encoder = part("text_encoder", lambda: CLIPTextModel.from_pretrained(
                path, subfolder="text_encoder", torch_dtype=dtype, **kw))
            tokenizer = part("tokenizer", lambda: CLIPTokenizer.from_pretrained(path, subfolder="tokenizer", **kw))
    return SDSModel.from_modules(unet, scheduler, vae, text_encoder, tokenizer, device=device, dtype=dtype,
                                 source=f"--model-dir {path}")


@dataclass
class PromptEmbeddings:
    """A prompt and its negative as the UNet's ``encoder_hidden_states``: cond (1, L, D), uncond (1, L, D)."""

    cond: torch.Tensor
    uncond: torch.Tensor

    def expand(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cond.expand(batch, -1, -1), self.uncond.expand(batch, -1, -1)

    @staticmethod
    def stack(items: Sequence["PromptEmbeddings"], index: torch.Tensor) -> "PromptEmbeddings":
        """Per-sample embeddings (B, L, D) chosen from ``items`` by ``index`` (B,) (e.g. view-dependent prompts)."""
        cond = torch.cat([e.cond for e in items])[index]
        uncond = torch.cat([e.uncond for e in items])[index]
        return PromptEmbeddings(cond, uncond)


@dataclass
class SDSOutput:
    """``loss``: the surrogate (value 0.5 |grad|^2 per image, averaged over the batch; gradient w.r.t. the
    latents exactly ``grad``); ``grad``: (B, C, h, w) w(t) (eps_hat - eps); ``t``: (B,) timesteps; ``latents``:
    (B, C, h, w) what the UNet saw before noising."""

    loss: torch.Tensor
    grad: torch.Tensor
    t: torch.Tensor
    latents: torch.Tensor


def sds_weights(alphas_cumprod: torch.Tensor, t: torch.Tensor, weighting: str) -> torch.Tensor:
    """w(t) (B,) for timesteps t (B,) (``WEIGHTINGS``)."""
    abar = alphas_cumprod[t]
    if weighting == "sds":
        return 1.0 - abar
    if weighting == "uniform":
        return torch.ones_like(abar)
    if weighting == "fantasia3d":
        return abar.sqrt() * (1.0 - abar)
    raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}; got {weighting!r}")


class SDSLoss:
    """Score distillation with a frozen ``SDSModel`` (module docstring).

    Args:
        model: the diffusion model.
        guidance_scale: classifier-free guidance ``s`` (DreamFusion: 100; 1 uses the prompt's prediction alone).
        min_step_frac, max_step_frac: timesteps are drawn uniformly in [min_frac T, max_frac T] (T the training
            timesteps; DreamFusion: 0.02 .. 0.98).
        weighting: w(t), one of ``WEIGHTINGS``.
        grad_clip: clamp each element of ``grad`` to [-c, c] (None: no clamp).
    """

    def __init__(self, model: SDSModel, guidance_scale: float = 100.0, min_step_frac: float = 0.02,
                 max_step_frac: float = 0.98, weighting: str = "sds", grad_clip: float | None = None) -> None:
        if not 0.0 <= min_step_frac <= max_step_frac <= 1.0:
            raise ValueError(f"need 0 <= min_step_frac <= max_step_frac <= 1; got {min_step_frac}, {max_step_frac}")
        if not guidance_scale >= 0:
            raise ValueError(f"guidance_scale must be >= 0; got {guidance_scale}")
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}; got {weighting!r}")
        if grad_clip is not None and not grad_clip > 0:
            raise ValueError(f"grad_clip must be > 0; got {grad_clip}")
        self.model = model
        self.guidance_scale = float(guidance_scale)
        T = model.num_train_timesteps
        self.min_step = min(max(int(round(min_step_frac * (T - 1))), 1), T - 1)
        self.max_step = max(min(int(round(max_step_frac * (T - 1))), T - 1), self.min_step)
        self.weighting = weighting
        self.grad_clip = grad_clip

    # --- prompts -------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        """CLIP embeddings (N, L, D) of ``texts`` (padded to the tokenizer's maximum length, as Stable Diffusion)."""
        m = self.model
        if m.text_encoder is None or m.tokenizer is None:
            raise ValueError(f"{m.source or 'model'}: no text_encoder/ and tokenizer/; give the prompt as "
                             "embeddings (PromptEmbeddings)")
        tokens = m.tokenizer(list(texts), padding="max_length", max_length=m.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt")
        return m.text_encoder(tokens.input_ids.to(m.device))[0]

    def embed_prompt(self, prompt: str, negative_prompt: str = "") -> PromptEmbeddings:
        """The prompt and its negative (the unconditional branch of guidance; "" as in Stable Diffusion)."""
        both = self.embed_text([prompt, negative_prompt])
        return PromptEmbeddings(both[:1], both[1:])

    # --- images <-> what the UNet sees --------------------------------------------------------------------------
    def encode_images(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images (B, 3, H, W) in [0, 1] -> the UNet's input (B, C, h, w), differentiably.

        The images are resized (bilinear) to ``model.image_size``, mapped to [-1, 1] and, in latent space,
        encoded by the VAE (a sample of its posterior, times the scaling factor).
        """
        m = self.model
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, H, W); got {tuple(images.shape)}")
        x = images
        if x.shape[-2:] != (m.image_size, m.image_size):
            x = F.interpolate(x, (m.image_size, m.image_size), mode="bilinear", align_corners=False)
        x = (x * 2.0 - 1.0).to(m.dtype)
        if m.vae is None:
            return x.float()
        posterior = m.vae.encode(x).latent_dist
        return (posterior.sample(generator=generator) * m.scaling_factor).float()

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """The UNet's input (B, C, h, w) -> images (B, 3, H, W) in [0, 1] (for viewing)."""
        m = self.model
        x = latents.to(m.dtype)
        if m.vae is not None:
            x = m.vae.decode(x / m.scaling_factor).sample
        return ((x.float() + 1.0) / 2.0).clamp(0.0, 1.0)

    # --- the score ----------------------------------------------------------------------------------------------
    def sample_timesteps(self, batch: int, device: torch.device | None = None,
                         generator: torch.Generator | None = None) -> torch.Tensor:
        """(batch,) int64 timesteps, uniform in [min_step, max_step]."""
        device = self.model.device if device is None else device
        return torch.randint(self.min_step, self.max_step + 1, (batch,), device=device, generator=generator)

    @torch.no_grad()
    def predict_noise(self, noisy: torch.Tensor, t: torch.Tensor, embeddings: PromptEmbeddings) -> torch.Tensor:
        """Guided noise prediction eps_hat (B, C, h, w) for noisy inputs (B, C, h, w) at timesteps t (B,).

        One UNet call on the batch twice over (unconditional, conditional), unless guidance_scale == 1.
        ``embeddings`` hold (1, L, D) or (B, L, D) tensors.
        """
        m = self.model
        B = noisy.shape[0]
        cond, uncond = embeddings.cond, embeddings.uncond
        cond = cond.expand(B, -1, -1) if cond.shape[0] == 1 else cond
        uncond = uncond.expand(B, -1, -1) if uncond.shape[0] == 1 else uncond
        if cond.shape[0] != B or uncond.shape[0] != B:
            raise ValueError(f"prompt embeddings for {cond.shape[0]} images, latents for {B}")
        guided = self.guidance_scale != 1.0
        x_in = torch.cat([noisy, noisy]) if guided else noisy
        t_in = torch.cat([t, t]) if guided else t
        ctx = torch.cat([uncond, cond]) if guided else cond
        out = m.unet(x_in.to(m.dtype), t_in, encoder_hidden_states=ctx.to(m.dtype)).sample.float()
        out = self._to_epsilon(out, x_in, t_in)
        if not guided:
            return out
        eps_uncond, eps_cond = out.chunk(2)
        return eps_uncond + self.guidance_scale * (eps_cond - eps_uncond)

    def _to_epsilon(self, out: torch.Tensor, noisy: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The UNet's output as a noise prediction, whatever it was trained to predict."""
        if self.model.prediction_type == "epsilon":
            return out
        abar = self.model.alphas_cumprod[t].view(-1, 1, 1, 1)
        if self.model.prediction_type == "v_prediction":  # v = sqrt(abar) eps - sqrt(1 - abar) x0
            return abar.sqrt() * out + (1.0 - abar).sqrt() * noisy
        return (noisy - abar.sqrt() * out) / (1.0 - abar).sqrt()  # "sample": out is x0

    @torch.no_grad()
    def gradient(self, latents: torch.Tensor, embeddings: PromptEmbeddings, t: torch.Tensor,
                 noise: torch.Tensor) -> torch.Tensor:
        """w(t) (eps_hat - eps) (B, C, h, w) for latents (B, C, h, w), timesteps t (B,) and noise eps like latents."""
        abar = self.model.alphas_cumprod[t].view(-1, 1, 1, 1)
        noisy = abar.sqrt() * latents + (1.0 - abar).sqrt() * noise
        eps_hat = self.predict_noise(noisy, t, embeddings)
        w = sds_weights(self.model.alphas_cumprod, t, self.weighting).view(-1, 1, 1, 1)
        grad = w * (eps_hat - noise)
        if self.grad_clip is not None:
            grad = grad.clamp(-self.grad_clip, self.grad_clip)
        return torch.nan_to_num(grad)

    def latent_loss(self, latents: torch.Tensor, embeddings: PromptEmbeddings, t: torch.Tensor | None = None,
                    noise: torch.Tensor | None = None, generator: torch.Generator | None = None) -> SDSOutput:
        """SDS on the UNet's input (B, C, h, w) (an optimised latent, or ``encode_images`` of renders).

        ``t`` (B,) and ``noise`` (B, C, h, w) are drawn (from ``generator``, else the global RNG) when not given.
        The returned ``loss`` has gradient exactly ``grad`` with respect to ``latents``.
        """
        if latents.dim() != 4:
            raise ValueError(f"latents must be (B, C, h, w); got {tuple(latents.shape)}")
        if not torch.isfinite(latents).all():
            raise ValueError("SDS input has NaN or infinite values")
        B = latents.shape[0]
        if t is None:
            t = self.sample_timesteps(B, latents.device, generator)
        t = t.to(device=latents.device, dtype=torch.long).expand(B) if t.dim() == 0 else t.to(latents.device).long()
        if noise is None:
            noise = torch.randn(latents.shape, device=latents.device, dtype=latents.dtype, generator=generator)
        grad = self.gradient(latents.detach(), embeddings, t, noise).to(latents.dtype)
        # value: 0.5 |grad|^2 per image (the number DreamFusion-style code logs); gradient: exactly grad
        value = 0.5 * grad.square().sum() / B
        loss = value + (grad * (latents - latents.detach())).sum()
        return SDSOutput(loss=loss, grad=grad, t=t, latents=latents)

    def __call__(self, images: torch.Tensor, embeddings: PromptEmbeddings, t: torch.Tensor | None = None,
                 noise: torch.Tensor | None = None, generator: torch.Generator | None = None) -> SDSOutput:
        """SDS on images (B, 3, H, W) in [0, 1]: ``latent_loss(encode_images(images))``."""
        if not torch.isfinite(images).all():
            raise ValueError("SDS input images have NaN or infinite values")
        return self.latent_loss(self.encode_images(images, generator), embeddings, t, noise, generator)


def describe_model(model: SDSModel) -> dict[str, Any]:
    """Plain facts about a loaded model (for logs and config.json)."""
    return {"source": model.source, "latent_space": model.latent_space, "image_size": model.image_size,
            "timesteps": model.num_train_timesteps, "prediction_type": model.prediction_type,
            "dtype": str(model.dtype).replace("torch.", ""), "text_encoder": model.text_encoder is not None}

