#!/bin/sh
	echo "starting"  
exec "$@"
