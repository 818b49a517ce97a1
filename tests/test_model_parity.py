"""The Flax model equals transformers' PyTorch XLM-R, encoder and every head."""

import numpy as np
import pytest
import torch

from xlmr_flax import load_pretrained

HEAD_CLASSES = {
    None: "XLMRobertaModel",
    "classification": "XLMRobertaForSequenceClassification",
    "multiple_choice": "XLMRobertaForMultipleChoice",
    "span_extraction": "XLMRobertaForQuestionAnswering",
    "token_tagging": "XLMRobertaForTokenClassification",
    "masked_lm": "XLMRobertaForMaskedLM",
}


def padded_batch(seq_len: int, batch: int = 3, seed: int = 0):
    """Random ids with right padding of different lengths (one row unpadded)."""
    rng = np.random.RandomState(seed)
    ids = rng.randint(3, 99, (batch, seq_len))
    lengths = [seq_len, *rng.randint(2, seq_len, batch - 1)]
    mask = (np.arange(seq_len)[None] < np.array(lengths)[:, None]).astype(np.int64)
    ids[mask == 0] = 1  # <pad>
    return ids, mask


def torch_outputs(model, ids, mask):
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask))
    return {k: v.numpy() for k, v in out.items() if isinstance(v, torch.Tensor)}


@pytest.mark.parametrize("head", list(HEAD_CLASSES))
@pytest.mark.parametrize("seq_len", [5, 16, 33])
def test_float32_outputs_match_transformers(hf_checkpoint, head, seq_len):
    reference, directory = hf_checkpoint(
        HEAD_CLASSES[head], num_labels=2 if head == "span_extraction" else 5
    )
    model = load_pretrained(directory)
    assert model.head == head
    ids, mask = padded_batch(seq_len)
    if head == "multiple_choice":  # [batch, choices, length]
        ids, mask = np.stack([ids, ids[::-1]], 1), np.stack([mask, mask[::-1]], 1)
    expected = torch_outputs(reference, ids, mask)
    ours = model({"input_ids": ids, "attention_mask": mask})
    assert set(ours) <= set(expected)
    for name, value in ours.items():
        np.testing.assert_allclose(np.asarray(value), expected[name], atol=1e-5, rtol=0)


def test_encode_returns_float32_last_hidden_states(hf_checkpoint):
    reference, directory = hf_checkpoint("XLMRobertaModel")
    ids, mask = padded_batch(12)
    hidden = load_pretrained(directory).encode(ids, mask)
    assert hidden.shape == (3, 12, 32) and hidden.dtype == np.float32
    expected = torch_outputs(reference, ids, mask)["last_hidden_state"]
    np.testing.assert_allclose(np.asarray(hidden), expected, atol=1e-5, rtol=0)


def test_all_hidden_states_and_sentence_embedding_match(hf_checkpoint):
    reference, directory = hf_checkpoint("XLMRobertaModel")
    model = load_pretrained(directory)
    ids, mask = padded_batch(9)
    with torch.no_grad():
        states = reference(
            input_ids=torch.tensor(ids),
            attention_mask=torch.tensor(mask),
            output_hidden_states=True,
        ).hidden_states
    module = model.module()
    ours = module.encoder(ids, mask, output_hidden_states=True).hidden_states
    assert len(ours) == len(states) == 3
    for a, b in zip(ours, states, strict=True):
        np.testing.assert_allclose(np.asarray(a), b.numpy(), atol=1e-5, rtol=0)

    from xlmr_flax.heads import SentenceEmbeddingHead

    for pooling, layer in [("mean", 1), ("first", -1)]:
        head = SentenceEmbeddingHead(model.config, pooling=pooling, layer=layer)
        got = np.asarray(
            head(module.encoder, {"input_ids": ids, "attention_mask": mask}, None)["embedding"]
        )
        h = states[layer].numpy()
        want = (
            h[:, 0]
            if pooling == "first"
            else (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        )
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_bfloat16_compute_stays_close_to_float32(hf_checkpoint):
    """bfloat16 has an 8-bit mantissa: we allow 0.1 absolute on LayerNorm-scaled
    hidden states (unit variance) and 0.02 mean absolute error."""
    reference, directory = hf_checkpoint("XLMRobertaModel")
    ids, mask = padded_batch(16)
    expected = torch_outputs(reference, ids, mask)["last_hidden_state"]
    model = load_pretrained(directory, dtype="bfloat16")
    assert model.params["encoder"]["layers"][0]["intermediate"]["kernel"].dtype == np.float32
    got = np.asarray(model.encode(ids, mask))
    assert got.dtype == np.float32
    error = np.abs(got - expected)
    assert error.max() < 0.1 and error.mean() < 0.02, (error.max(), error.mean())


def test_padding_does_not_change_real_token_states(hf_checkpoint):
    _, directory = hf_checkpoint("XLMRobertaModel")
    model = load_pretrained(directory)
    ids, _ = padded_batch(7, batch=1)
    longer = np.concatenate([ids, np.ones((1, 5), ids.dtype)], 1)
    mask = (longer != 1).astype(np.int64)
    short_states = np.asarray(model.encode(ids))
    long_states = np.asarray(model.encode(longer, mask))
    np.testing.assert_allclose(long_states[:, :7], short_states, atol=1e-5, rtol=0)


def test_dropout_is_keyed_and_off_without_key(hf_checkpoint):
    import jax

    _, directory = hf_checkpoint("XLMRobertaModel")
    encoder = load_pretrained(directory).module().encoder
    ids, mask = padded_batch(8)
    plain = np.asarray(encoder(ids, mask).last_hidden_state)
    key = jax.random.key(3)
    a = np.asarray(encoder(ids, mask, dropout_rng=key).last_hidden_state)
    b = np.asarray(encoder(ids, mask, dropout_rng=key).last_hidden_state)
    c = np.asarray(encoder(ids, mask, dropout_rng=jax.random.key(4)).last_hidden_state)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, plain) and not np.allclose(a, c)
