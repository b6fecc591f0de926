"""A tiny, randomly initialised multilingual open_clip model of the architecture of
``xlm-roberta-base-ViT-B-32`` (a Hugging Face XLM-RoBERTa text tower and a ViT image tower),
written to a folder in the layout the production loader reads
(``open_clip:local-dir:PATH``). Built entirely offline: the XLM-RoBERTa config is written
by hand and its tokenizer is trained here on a few hundred English and Chinese sentences.
Deterministic for a given seed."""

from __future__ import annotations

import json
from pathlib import Path

# XLM-RoBERTa's special tokens, with its ids for the first four
SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
CONTEXT_LENGTH = 77

_EN_SUBJECTS = ["a dog", "a cat", "the river", "my friend", "an old man", "the city", "a red car",
                "the mountain", "a small bird", "the teacher", "a photo", "the children"]
_EN_VERBS = ["runs near", "sleeps under", "looks at", "walks to", "sits beside", "flies over",
             "waits for", "plays with"]
_EN_OBJECTS = ["the tree", "a house", "the sea", "a bridge", "the garden", "a window",
               "the station", "a lake", "the market", "a book"]
_ZH_SUBJECTS = ["一只狗", "一只猫", "我的朋友", "老师", "孩子们", "一辆红色的汽车", "小鸟", "这张照片"]
_ZH_VERBS = ["在", "看着", "走向", "坐在", "飞过", "等待", "喜欢"]
_ZH_OBJECTS = ["公园里", "大海", "山上的房子", "河边", "花园", "火车站", "湖边", "市场", "一本书",
               "会议记录", "今天的天气很好", "北京", "上海的夜景"]


def corpus() -> list[str]:
    """A few hundred English and Chinese sentences to train the tokenizer on."""
    lines = [f"{s} {v} {o}." for s in _EN_SUBJECTS for v in _EN_VERBS for o in _EN_OBJECTS[:4]]
    lines += [f"{s}{v}{o}。" for s in _ZH_SUBJECTS for v in _ZH_VERBS for o in _ZH_OBJECTS]
    lines += ["Hello, world! 42 3.14 don't", "你好，世界！", "这是一条中文笔记，关于猫和狗。"]
    return lines


def xlmr_config(vocab_size: int) -> dict:
    """A tiny XLM-RoBERTa config, readable by transformers' AutoConfig."""
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": vocab_size,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        # RoBERTa positions start after the padding id: room for CONTEXT_LENGTH + 2
        "max_position_embeddings": 128,
        "type_vocab_size": 1,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-5,
        "bos_token_id": 0,
        "pad_token_id": 1,
        "eos_token_id": 2,
        "position_embedding_type": "absolute",
    }


def write_tokenizer(folder: Path, vocab_size: int = 600) -> int:
    """Train a tiny Unigram tokenizer (XLM-R style: Metaspace, ``<s> X </s>``) and save it
    in the layout AutoTokenizer.from_pretrained(folder) reads; return its vocabulary size."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                      unk_token="<unk>", show_progress=False)
    tok.train_from_iterator(corpus(), trainer=trainer)
    ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}
    assert [ids[t] for t in SPECIAL_TOKENS[:4]] == [0, 1, 2, 3], ids
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])],
    )
    tok.save(str(folder / "tokenizer.json"))
    special = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
               "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(special))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": 512,
        **special,
    }))
    return int(tok.get_vocab_size())


def write_tiny_xlmr_clip(folder: Path, seed: int = 0) -> str:
    """Write the text tower's config and tokenizer, the open_clip config and random
    weights; return the model spec that loads them."""
    import open_clip
    import torch

    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    vocab_size = write_tokenizer(folder)
    (folder / "config.json").write_text(json.dumps(xlmr_config(vocab_size)))

    base = json.loads(
        (Path(open_clip.__file__).parent / "model_configs" / "xlm-roberta-base-ViT-B-32.json").read_text()
    )
    model_cfg = {
        **base,
        "embed_dim": 32,
        "vision_cfg": {**base["vision_cfg"], "image_size": 64, "layers": 2, "width": 64,
                       "patch_size": 32, "head_width": 32},
        "text_cfg": {**base["text_cfg"], "hf_model_name": str(folder), "hf_tokenizer_name": str(folder),
                     "hf_model_pretrained": False, "context_length": CONTEXT_LENGTH},
    }
    config = {
        "model_cfg": model_cfg,
        "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073],
                           "std": [0.26862954, 0.26130258, 0.27577711]},
    }
    (folder / "open_clip_config.json").write_text(json.dumps(config))

    # Build from the config just written, with no weights file yet in the folder: random.
    torch.manual_seed(seed)
    model = open_clip.create_model(f"local-dir:{folder}", load_weights=False, pretrained_text=False)
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return f"open_clip:local-dir:{folder}"
