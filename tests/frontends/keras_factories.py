"""Keras 3 models for the Keras tests (`flopest count tests.frontends.keras_factories:NAME`).

Imported by flopest as factories, after it has chosen Keras's torch backend; the arithmetic of
their counts is in tests/frontends/test_keras.py."""

import keras
from keras import layers


def cnn():
    """Sequential CNN on 32x32x3 images: conv 3x3x8, batch norm, max pool, conv 3x3x16, global
    average pool, dense 10."""
    return keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.Conv2D(8, 3, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dropout(0.1),
        layers.Dense(10),
    ], name="cnn")


def transformer(seq=16, vocab=100, d=32, heads=4, key_dim=8, ff=64, classes=3):
    """One post-norm encoder block over token embeddings, mean-pooled, with a classifier head."""
    tokens = keras.Input((seq,), dtype="int32", name="tokens")
    x = layers.Embedding(vocab, d)(tokens)
    a = layers.MultiHeadAttention(num_heads=heads, key_dim=key_dim)(x, x)
    x = layers.LayerNormalization()(x + a)
    f = layers.Dense(ff, activation="relu")(x)
    f = layers.Dense(d)(f)
    x = layers.LayerNormalization()(x + f)
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(tokens, layers.Dense(classes)(x), name="transformer")


def huge_dense():
    """Dense 100,000 -> 100,000 (1e10 weights, 40 GB in fp32): countable only on the meta device."""
    return keras.Sequential([keras.Input((100_000,)), layers.Dense(100_000)], name="huge")


class TwoLayer(keras.Model):
    """A subclassed model: it declares no inputs (they come from --input)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.hidden = layers.Dense(32, activation="relu")
        self.out = layers.Dense(4)

    def call(self, x):
        return self.out(self.hidden(x))


def subclassed():
    return TwoLayer(name="two_layer")


def subclassed_with_inputs():
    import flopest
    return TwoLayer(name="two_layer"), flopest.spec((8, 16))
