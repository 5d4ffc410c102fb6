"""Hugging Face models as users hold them: `hf:ORG/NAME` (a hub id) or `hf:PATH` (a folder with a
config.json, or the file itself). Only the config is read — a local path first, then the local
Hugging Face cache, and only when neither has it and the hub is not set offline, `config.json`
alone is fetched with huggingface_hub; never a weight. The model is built from the config with
transformers' Auto classes (on the meta device: the caller builds it under
`build_on_meta`), and example inputs are made from the config (token ids of `seq_len`, or an
image of the config's size)."""

from __future__ import annotations

import os

from ...errors import InputError, ModelReadError
from ...validate import error
from .inputs import spec

# --task → the transformers Auto class, and the architectures' suffixes that default to it
TASKS = {
    "causal-lm": ("AutoModelForCausalLM", ("ForCausalLM",)),
    "seq2seq": ("AutoModelForSeq2SeqLM", ("ForConditionalGeneration", "ForSeq2SeqLM")),
    "masked-lm": ("AutoModelForMaskedLM", ("ForMaskedLM", "ForPreTraining")),
    "classification": ("AutoModelForSequenceClassification", ("ForSequenceClassification",)),
    "image-classification": ("AutoModelForImageClassification", ("ForImageClassification",)),
    "base": ("AutoModel", ("Model",)),
}
# transformers' own tables of which class is which head (models/auto/modeling_auto.py), read in
# this order: a class in several (GPT2LMHeadModel: causal LM and pre-training) takes the first
_HEAD_TABLES = (("causal-lm", "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"),
                ("seq2seq", "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES"),
                ("classification", "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES"),
                ("image-classification", "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES"),
                ("masked-lm", "MODEL_FOR_MASKED_LM_MAPPING_NAMES"),
                ("masked-lm", "MODEL_FOR_PRETRAINING_MAPPING_NAMES"))
# heads whose inputs flopest does not make (speech, images beside text): refused with the way out
_UNSUPPORTED = (("MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES", "a speech model (its input is audio features)"),
                ("MODEL_FOR_CTC_MAPPING_NAMES", "a speech model (its input is audio)"),
                ("MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES", "a vision-language model (its inputs are images and "
                                                               "text)"))


def _head_table(name: str) -> set:
    from transformers.models.auto import modeling_auto
    out = set()
    for v in getattr(modeling_auto, name, {}).values():
        out.update(v if isinstance(v, (tuple, list)) else (v,))
    return out
MAX_DEFAULT_SEQ = 2048   # the config's context is used up to this length unless --seq-len says otherwise


def read_config(ref: str):
    """(config, where it was read) for `ref`: an existing folder or .json file, else a hub id
    looked up in the local cache, then fetched (config.json only) unless HF_HUB_OFFLINE is set."""
    from transformers import AutoConfig
    if os.path.exists(ref):
        path = os.path.join(ref, "config.json") if os.path.isdir(ref) else ref
        if not os.path.isfile(path):
            raise ModelReadError(f"hf:{ref}: no config.json in that folder; give the folder of a Hugging Face "
                                 f"model or its config.json")
        return _load(AutoConfig, path, ref), path
    if ref.count("/") > 1 or not ref.strip() or ref.startswith((".", "/")):
        raise ModelReadError(f"hf:{ref}: no such file or folder, and not a hub id (ORG/NAME)")
    from huggingface_hub import try_to_load_from_cache
    cached = try_to_load_from_cache(ref, "config.json")
    if isinstance(cached, str) and os.path.isfile(cached):
        return _load(AutoConfig, cached, ref), f"{cached} (local Hugging Face cache)"
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise ModelReadError(f"hf:{ref}: config.json is not in the local Hugging Face cache and HF_HUB_OFFLINE is "
                             f"set; give a local config.json as hf:PATH, or unset HF_HUB_OFFLINE")
    from huggingface_hub import hf_hub_download
    try:
        path = hf_hub_download(ref, "config.json")   # the config only, never a weight
    except Exception as exc:   # offline, a private or unknown repo
        why = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ModelReadError(f"hf:{ref}: could not fetch its config.json ({type(exc).__name__}: {why}); give a "
                             f"local config.json as hf:PATH") from None
    return _load(AutoConfig, path, ref), f"{path} (fetched from the hub: config.json only)"


def _load(auto, path: str, ref: str):
    try:
        return auto.from_pretrained(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        why = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelReadError(f"hf:{ref}: {path!r} is not a config transformers can read ({why})") from None


def task_of(config, task: str | None) -> tuple:
    """(task, how it was chosen): `task` when given, else from the config's architectures."""
    if task is not None:
        if task not in TASKS:
            from ...errors import did_you_mean
            raise InputError(f"task {task!r} is not one of {', '.join(TASKS)}{did_you_mean(task, TASKS)}")
        return task, "given"
    archs = list(getattr(config, "architectures", None) or [])
    for arch in archs:
        for name, table in _HEAD_TABLES:
            if arch in _head_table(table):
                return name, f"from the config's architectures ({arch})"
        for table, what in _UNSUPPORTED:
            if arch in _head_table(table):
                raise InputError(f"{arch} is {what}, whose inputs flopest does not build from a config: export it to "
                                 f"ONNX and count that, or count it in Python with flopest.count(model, inputs)"
                                 + ("; --task causal-lm counts its text decoder alone where the config allows it"
                                    if "vision" in what else ""))
        for name, (_, suffixes) in TASKS.items():   # a class transformers' tables do not list (remote code)
            if name != "base" and any(arch.endswith(s) for s in suffixes):
                return name, f"from the config's architectures ({arch})"
    if archs:
        return "base", (f"the config's architectures ({', '.join(archs)}) name no head flopest builds: the base model "
                        f"(--task chooses a head)")
    return "base", "the config names no head (architectures): the base model (--task chooses a head)"


def build(config, task: str):
    """The model of `config` with `task`'s head (call under torch.device('meta'))."""
    import transformers
    auto = getattr(transformers, TASKS[task][0])
    try:
        return auto.from_config(config)
    except ValueError as exc:   # the config's model_type has no such head
        why = str(exc).strip().splitlines()[0][:200]
        raise InputError(f"{type(config).__name__} has no {task} head ({why}); choose another --task "
                         f"({', '.join(TASKS)})") from None


def context_of(config):
    from .generation import context_of as ctx
    return ctx(config)


def example_inputs(config, task: str, seq_len: int | None, batch: int) -> tuple:
    """(kwargs of example inputs, sequence length used or None, notes)."""
    notes = []
    mtype = getattr(config, "model_type", None)
    for table, what in _UNSUPPORTED[:2]:
        from transformers.models.auto import modeling_auto
        if mtype in getattr(modeling_auto, table, {}):
            raise InputError(f"{type(config).__name__} is {what}: flopest does not build its example inputs from a "
                             f"config; export it to ONNX and count that, or count it in Python with "
                             f"flopest.count(model, inputs)")
    text = getattr(config, "get_text_config", lambda: config)()
    if getattr(config, "vision_config", None) is not None and getattr(text, "vocab_size", None):
        notes.append(f"{type(config).__name__} is a vision-language model counted on text tokens alone: its vision "
                     f"encoder's work on images is not counted")
    if getattr(text, "vocab_size", None):
        ctx, field = context_of(config)
        if seq_len is None:
            if ctx is None:
                raise InputError(f"{type(config).__name__} states no context length: give --seq-len (API seq_len=)")
            seq_len = min(ctx, MAX_DEFAULT_SEQ)
            notes.append(f"sequence length {seq_len:,}: the config's {field} {ctx:,}"
                         + (f", capped at {MAX_DEFAULT_SEQ:,} (--seq-len for another)" if ctx > MAX_DEFAULT_SEQ
                            else " (--seq-len for another)"))
        elif ctx is not None and seq_len > ctx:
            raise InputError(f"seq_len {seq_len:,} exceeds the config's context of {ctx:,} ({field})")
        kw = {"input_ids": spec((batch, seq_len), "int64")}
        if task == "seq2seq" or getattr(config, "is_encoder_decoder", False):
            kw["decoder_input_ids"] = spec((batch, seq_len), "int64")
            notes.append(f"encoder and decoder both at {seq_len:,} tokens")
        return kw, seq_len, notes
    size = getattr(config, "image_size", None)
    if size:
        ch = getattr(config, "num_channels", 3)
        side = size if isinstance(size, int) else int(size[0])
        return {"pixel_values": spec((batch, ch, side, side))}, None, notes
    raise InputError(f"{type(config).__name__}: flopest cannot make example inputs for this config (no "
                     f"vocabulary, no image size); count the model in Python with flopest.count(model, inputs)")


# ----------------------------------------------------------------------------- a decoder from its shape
DEFAULT_VOCAB = 32000   # Llama 2's vocabulary (Touvron et al. 2023), when none is given
DEFAULT_HEAD_DIM = 128  # the head size of Llama, Mistral, Qwen2 and GPT-3 175B


def synthetic_config(params: int, layers: int, d_model: int, seq_len: int, *, heads=None, kv_heads=None,
                     ffn=None, vocab=None, experts=None, active_experts=None) -> tuple:
    """(LlamaConfig, notes): a Llama-shaped decoder (RMSNorm, rotary positions, SwiGLU MLP, untied
    embeddings) with the shape given; what is not given is said: heads = d_model / 128, key-value
    heads = heads, vocabulary 32,000, and the MLP width solved so that the parameters match
    `params`:
        N = 2·V·d + d + L·(2·d² + 2·d·kv·d/h + 3·d·ffn + 2·d)   (q, o; k, v; gate, up, down; norms)
    rounded to a multiple of 256. A mixture of experts (`experts` E, `active_experts` k per token)
    has E SwiGLU experts of width `ffn` in every layer (N counts 3·d·ffn·E a layer, and a router
    of d·E); the decoder built holds one SwiGLU of width k·ffn, the compute of a token routed to k
    experts. Returns (config, notes, expert parameters)."""
    from transformers import LlamaConfig
    from ...validate import whole
    notes = []
    heads, kv_heads, ffn, vocab = (whole(name, v) if v is not None else None for name, v in
                                   (("heads", heads), ("kv_heads", kv_heads), ("ffn", ffn), ("vocab", vocab)))
    if heads is None:
        heads = max(1, d_model // DEFAULT_HEAD_DIM)
        notes.append(f"attention heads {heads}: d_model / {DEFAULT_HEAD_DIM} (--heads to give them)")
    if d_model % heads:
        raise InputError(f"d_model {d_model:,} is not a multiple of heads {heads}: give --heads that divides it")
    if kv_heads is None:
        kv_heads = heads
    if heads % kv_heads:
        raise InputError(f"heads {heads} is not a multiple of kv_heads {kv_heads}")
    if vocab is None:
        vocab = DEFAULT_VOCAB
        notes.append(f"vocabulary {vocab:,} (Llama 2's; --vocab to give it)")
    hd = d_model // heads
    e = int(experts or 1)
    k = int(active_experts or (1 if experts is None else 2))
    if experts is not None and not 1 <= k <= e:
        raise error(f"active_experts {k} must be between 1 and the {e} experts", "active_experts")
    if experts is None and active_experts is not None:
        raise error("active_experts needs experts (the experts of each layer)", "active_experts", "experts")
    fixed = 2 * vocab * d_model + d_model + layers * (2 * d_model * d_model + 2 * d_model * kv_heads * hd + 2 * d_model)
    if experts is not None:
        fixed += layers * d_model * e                      # the routers
    if ffn is None:
        raw = (params - fixed) / (3 * layers * d_model * e)
        if raw < 256:
            raise InputError(f"{params:,} parameters are too few for {layers} layers of d_model {d_model:,} with "
                             f"a {vocab:,}-token vocabulary (attention and embeddings alone hold {fixed:,}): check "
                             f"--params, --layers and --d-model")
        ffn = int(round(raw / 256) * 256)
        notes.append(f"{'expert ' if experts else ''}MLP width {ffn:,}: solved so that the parameters match the "
                     f"{params:,} given (--ffn to give it)")
    expert_params = 3 * d_model * ffn * e * layers if experts is not None else 0
    if experts is not None:
        notes.append(f"mixture of experts: {e} experts of width {ffn:,} a layer, {k} active per token; the graph holds "
                     f"one MLP of width {k * ffn:,} (the compute of a token's {k} experts: balanced routing assumed); "
                     f"the routers' d·E FLOPs per token are left out")
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=d_model, intermediate_size=ffn * k, num_hidden_layers=layers,
                      num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=seq_len,
                      tie_word_embeddings=False, architectures=["LlamaForCausalLM"])
    return cfg, notes, expert_params
