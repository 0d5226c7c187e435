"""`mnist-model train` with a distillation term (issue 40's candidate 3).

The loss is (1 - KD_ALPHA) * cross-entropy + KD_ALPHA * KD_T^2 * KL(teacher || student) at
temperature KD_T, the teacher's logits read from KD_TEACHER (``explore.py teacher``:
an ensemble's mean logits on the 60,000 un-warped training pictures), looked up by
each batch's indices. Everything else is ``mnist_model.train``'s loop.
usage: KD_TEACHER=F KD_ALPHA=A KD_T=T python distill.py train [train flags]
"""

import os
import sys

import torch
import torch.nn.functional as F

import mnist_model.train as T
from mnist_model.augment import random_affine
from mnist_model.cli import main
from mnist_model.errors import TrainingError


def _epoch(run, epoch, images, labels, follow):
    config, device = run.config, run.device
    steps, total = T._steps(config, images), T._total(config, images)
    side = T.train_side(config, epoch)
    size = None if side == T.IMAGE_SHAPE[-1] else (side, side)
    run.model.train()
    order = torch.randperm(len(images), generator=run.generator).to(device)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for step in range(steps):
        index = order[step * config.batch_size : (step + 1) * config.batch_size]
        global_step = (epoch - 1) * steps + step
        x, y = images[index], labels[index]
        loss, logits = _loss(run, x, y, TEACHER[index], global_step / total, size)
        if not torch.isfinite(loss):
            raise TrainingError("non-finite loss")
        run.optimizer.zero_grad()
        loss.backward()
        run.optimizer.step(T.learning_rate(config, global_step, total))
        if follow is not None:
            follow()
        loss_sum += loss.detach() * len(y)
        correct += (logits.detach().argmax(1) == y).sum()
    return loss_sum, correct


def _loss(run, images, labels, teacher, done, size):
    config = run.config
    magnitude = 1.0 - config.augment_decay * done
    x = random_affine(
        images,
        run.generator,
        max_rotation_deg=config.max_rotation_deg * magnitude,
        max_translate=config.max_translate * magnitude,
        max_scale=config.max_scale * magnitude,
        max_elastic_px=config.max_elastic_px * magnitude,
        size=size,
    ).contiguous(memory_format=run.arithmetic.memory_format)
    with run.arithmetic.autocast(run.device):
        logits = run.net(x).float()
    ce = F.cross_entropy(logits, labels, label_smoothing=config.label_smoothing)
    student = F.log_softmax(logits / TEMPERATURE, 1)
    target = F.log_softmax(teacher / TEMPERATURE, 1)
    kd = F.kl_div(student, target, reduction="batchmean", log_target=True)
    return (1 - ALPHA) * ce + ALPHA * TEMPERATURE**2 * kd, logits


if __name__ == "__main__":
    TEACHER = torch.load(os.environ["KD_TEACHER"])["logits"].float()
    ALPHA, TEMPERATURE = float(os.environ["KD_ALPHA"]), float(os.environ["KD_T"])
    T._epoch = _epoch
    sys.exit(main(sys.argv[1:]))
