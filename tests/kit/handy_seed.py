"""A small Handy catalog written through the client (one family, products BEB-000...)."""

from __future__ import annotations

from clients.handy import HandyClient


async def seed_handy_products(handy: HandyClient, count: int) -> list[dict]:
    family = await handy.create_family("Bebidas")
    return [
        await handy.create_product(
            {
                "code": f"BEB-{i:03d}",
                "description": f"Bebida {i}",
                "price": 11.6,
                "family": {"id": family["id"]},
                "quantity": 10,
            }
        )
        for i in range(count)
    ]
