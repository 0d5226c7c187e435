"""Train SmallNet on MNIST the way a user would (torchvision, pixels in [0, 1]) and save
its state_dict: ``python train.py --seed 0 --out models/seed0.pt``.

``--weaken`` saves a deliberately damaged copy instead: the trained network with its
head's weights for one digit scaled down, the kind of regression a gate must catch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from net import SmallNet
from torchvision import datasets, transforms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="the seed of the run")
    parser.add_argument("--epochs", type=int, default=2, help="passes over the training set")
    parser.add_argument("--out", type=Path, required=True, help="the state_dict file to write")
    parser.add_argument("--data-dir", required=True, help="the folder holding MNIST/raw")
    parser.add_argument("--weaken", type=int, metavar="DIGIT", help="damage this digit's head")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    train = datasets.MNIST(
        args.data_dir, train=True, download=False, transform=transforms.ToTensor()
    )
    loader = torch.utils.data.DataLoader(train, batch_size=64, shuffle=True)
    model = SmallNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=3e-3, total_steps=args.epochs * len(loader)
    )
    model.train()
    for _ in range(args.epochs):
        for images, labels in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            optimizer.step()
            schedule.step()
    if args.weaken is not None:
        with torch.no_grad():
            model.fc.weight[args.weaken] *= 0.5
            model.fc.bias[args.weaken] -= 2.0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
