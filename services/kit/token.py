"""Mint a local token: `python -m services.kit.token --role agent [--city 济南] [--products P1,P2] [--vendor V]`."""

import argparse
import sys

from contracts.vocabulary import CITIES, Role
from services.kit.auth import mint_token
from services.kit.settings import ServiceSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mint a local JWT signed with OPS_AUTH_SECRET.")
    parser.add_argument("--role", action="append", required=True, choices=[r.value for r in Role],
                        help="a role; repeat for several")
    parser.add_argument("--sub", help="subject (default: <role>-1)")
    parser.add_argument("--name")
    parser.add_argument("--city", choices=CITIES)
    parser.add_argument("--products", default="", help="comma-separated product codes (product_manager)")
    parser.add_argument("--vendor", help="vendor id (vendor role)")
    parser.add_argument("--channel")
    parser.add_argument("--hours", type=int, default=12)
    args = parser.parse_args(argv)
    if "account_manager" in args.role and not args.city:
        parser.error("an account_manager token needs --city")
    if "vendor" in args.role and not args.vendor:
        parser.error("a vendor token needs --vendor")
    secret = ServiceSettings().auth_secret
    print(mint_token(secret, sub=args.sub or f"{args.role[0]}-1", roles=args.role, name=args.name, city=args.city,
                     products=[p for p in args.products.split(",") if p], vendor=args.vendor, channel=args.channel,
                     ttl_seconds=args.hours * 3600))
    return 0


if __name__ == "__main__":
    sys.exit(main())
